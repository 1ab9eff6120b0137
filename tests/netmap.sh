# shellcheck shell=bash
# 1:1 prefix mappings (NETMAP style): two LAN hosts behind the home box, in
# namespaces lan and lan2, mapped from the LAN prefix into the tunnel's
# prefix, each keeping its host part.
#
#   lan  (L1) --- home lan0 (the LAN prefix)
#   lan2 (L2) --- home lan1 (the gateway address again, a host route to L2)
#
# The home box's out policy (index $SPID) selects src $TO_NET dst
# $OFFICE_NET, static SAs as in the reference scenario.
# Source after lib.sh and howto.sh.

netmap_vars() {
	case $1 in
	4)
		FROM_NET=192.168.1.0/24 TO_NET=10.20.30.0/24 NARROW=10.20.30.0/25 WIDE_PLEN=25
		L1=192.168.1.17 L2=192.168.1.18 M1=10.20.30.17 M2=10.20.30.18 SPID2=321
		;;
	6)
		FROM_NET=fd00:1::/64 TO_NET=fd00:20::/64 NARROW=fd00:20::/65 WIDE_PLEN=65
		L1=fd00:1::17 L2=fd00:1::18 M1=fd00:20::17 M2=fd00:20::18 SPID2=329
		;;
	esac
}

# netmap_setup FAMILY
netmap_setup() {
	howto_setup "$1"
	netmap_vars "$1"
	# The first LAN host becomes L1.
	run_in lan ip addr flush dev eth0 scope global
	_xnat_addr_add lan eth0 "$L1/$PLEN"
	run_in lan ip -"$FAM" route replace default via "$LAN_GW"
	# The second one, on a link of its own.
	netns_create lan2
	veth_pair home lan1 "$LAN_GW/$HOSTLEN" lan2 eth0 "$L2/$PLEN"
	run_in home ip -"$FAM" route add "$L2/$HOSTLEN" dev lan1
	run_in lan2 ip -"$FAM" route add default via "$LAN_GW"
	# The tunnel's policies select the whole prefix.
	run_in home ip xfrm policy flush
	run_in gw ip xfrm policy flush
	MAPPED=${TO_NET%/*} HOSTLEN=${TO_NET#*/}
	howto_policy_add
	howto_return_policies "$TO_NET" "$OFFICE_NET"
}

# netmap_scenario FAMILY
netmap_scenario() {
	local fam=$1 out plain
	netmap_setup "$fam"
	load_module

	log "IPv$fam: from and to of different prefix lengths are refused by xnatctl"
	out=$(xnat map "spid=$SPID" from "$FROM_NET" to "${TO_NET%/*}/$WIDE_PLEN" 2>&1) &&
		fail "map from $FROM_NET to ${TO_NET%/*}/$WIDE_PLEN succeeded: $out"
	assert_contains "$out" "differ in prefix length" "xnatctl's refusal"
	log "xnatctl said: $out"
	assert_eq "[]" "$(xnat -j show)" "mappings after the refusal"

	log "IPv$fam: map spid=$SPID from $FROM_NET to $TO_NET"
	xnat map "spid=$SPID" from "$FROM_NET" to "$TO_NET"
	xnat show
	assert_eq "active $SPID ${FROM_NET%/*} ${FROM_NET#*/} ${TO_NET%/*} ${TO_NET#*/}" \
		"$(key_fields "spid=$SPID" state policies from from_prefix_len addr prefix_len)" \
		"state, policies, from, to"

	capture_start router r-home "wan$fam"
	exchange lan udp "l1-udp"
	exchange lan tcp "l1-tcp"
	exchange lan2 udp "l2-udp"
	exchange lan2 tcp "l2-tcp"
	ping_ok lan "$OFFICE_HOST"
	ping_ok lan2 "$OFFICE_HOST"
	capture_stop "wan$fam"

	assert_eq "udp $M1 l1-udp|tcp $M1 l1-tcp|udp $M2 l2-udp|tcp $M2 l2-tcp" \
		"$(paste -sd'|' "$XNAT_TMP/office.log")" "what the office host received, from whom"
	assert_ge 6 "$(key_field "spid=$SPID" flows)" "flows of the mapping"
	plain=$(capture_count "wan$fam" "host $OFFICE_HOST or net $TO_NET or net $FROM_NET")
	[ "$plain" = 0 ] || fail "plaintext on the WAN: $(capture_show "wan$fam" "host $OFFICE_HOST or net $TO_NET or net $FROM_NET")"
	assert_eq 0 "$(capture_count "wan$fam" "not esp and not arp and not icmp6")" "non-ESP packets on the WAN"
	assert_ge 10 "$(capture_count "wan$fam" "esp and src host $HOME_WAN and dst host $GW_WAN")" "ESP packets to the office gateway"

	log "IPv$fam: a policy that selects only part of the to prefix is refused at map time"
	run_in home ip xfrm policy add src "$NARROW" dst "$OTHER_NET" dir out index "$SPID2" \
		tmpl src "$HOME_WAN" dst "$GW_WAN" proto esp reqid 1 mode tunnel
	out=$(xnat map "spid=$SPID2" from "$FROM_NET" to "$TO_NET" 2>&1) &&
		fail "map spid=$SPID2 (src $NARROW) to $TO_NET succeeded: $out"
	log "xnatctl said: $out"
	assert_contains "$out" "policy $SPID2 selects src $NARROW, not $TO_NET" "the refusal's reason"
	assert_fail xnat show "spid=$SPID2"

	log "IPv$fam: the mapped policy comes back narrower: the mapping goes inactive, with the reason"
	howto_policy_del
	run_in home ip xfrm policy add src "$NARROW" dst "$OFFICE_NET" dir out index "$SPID" \
		tmpl src "$HOME_WAN" dst "$GW_WAN" proto esp reqid 1 mode tunnel
	wait_for 10 "the mapping to go inactive" key_field_is "spid=$SPID" state inactive
	assert_eq "policy $SPID selects src $NARROW, not $TO_NET" "$(key_field "spid=$SPID" reason)" "reason of the inactive mapping"
	xnat show
}
