# shellcheck shell=bash
# An IKE daemon restarts on the home box: the mapping names its policies by
# the reqid pinned in its configuration, and follows them as they come back
# under new indexes.  strongSwan's charon (tests/strongswan.sh) or libreswan's
# pluto (tests/libreswan.sh) on both ends of the reference topology.
# Source after lib.sh, howto.sh, strongswan.sh and libreswan.sh.

IKE_REQID=7

# What the WAN may carry while an IKE daemon runs, stops and starts: ESP,
# IKE (UDP 500 and 4500), neighbour discovery, link-local IPv6 multicast
# (MLD reports, whose hop-by-hop header hides them from 'icmp6', when an
# interface comes up), and an ICMP port unreachable
# that quotes an IKE datagram: a daemon that stops sends its deletes, and the
# peer's answer can arrive after the socket closed.  A pcap-filter
# expression; the quoted datagram's ports follow a 20-byte IPv4 header.
IKE_WAN_TRAFFIC='esp or udp port 500 or udp port 4500 or arp or icmp6 or
 (src net fe80::/10 and dst net ff02::/16) or
 (icmp[icmptype] == icmp-unreach and icmp[icmpcode] == 3 and icmp[17] == 17 and
  (icmp[28:2] == 500 or icmp[28:2] == 4500 or icmp[30:2] == 500 or icmp[30:2] == 4500))'


# trap_reqid: the reqid of the home box's out policy's template.
trap_reqid() {
	run_in home ip xfrm policy list dir out |
		awk -v src="$MAPPED/$HOSTLEN" '$1 == "src" && $2 == src {found = 1} found && /reqid/ {for (i = 1; i < NF; i++) if ($i == "reqid") {print $(i + 1); exit}}'
}
trap_reqid_is() { [ "$(trap_reqid)" = "$1" ]; }
no_trap() { [ -z "$(trap_index)" ]; }

# home_sa_up: an SA home -> office gateway of the pinned reqid is installed.
home_sa_up() {
	run_in home ip xfrm state list src "$HOME_WAN" dst "$GW_WAN" | grep -q "reqid $IKE_REQID "
}

# ike_start DAEMON SIDE: the daemon of SIDE (home: the trap policy; office:
# answers only), the CHILD_SA pinned to $IKE_REQID.
ike_start() {
	case $1/$2 in
	strongswan/home) charon_start home home "$HOME_WAN" "$GW_WAN" "$MAPPED/$HOSTLEN" "$OFFICE_NET" trap "$IKE_REQID" ;;
	strongswan/office) charon_start gw office "$GW_WAN" "$HOME_WAN" "$OFFICE_NET" "$MAPPED/$HOSTLEN" none "$IKE_REQID" ;;
	libreswan/home) pluto_start home home "$HOME_WAN" "$GW_WAN" "$MAPPED/$HOSTLEN" "$OFFICE_NET" ondemand "$IKE_REQID" ;;
	libreswan/office) pluto_start gw office "$GW_WAN" "$HOME_WAN" "$OFFICE_NET" "$MAPPED/$HOSTLEN" add "$IKE_REQID" ;;
	*) fail "ike_start: strongswan|libreswan home|office" ;;
	esac
}

ike_stop_home() {
	case $1 in
	strongswan) charon_stop home ;;
	libreswan) pluto_stop home ;;
	esac
}

# udp_from_home_ok TAG: one UDP exchange from the home box succeeds.
udp_from_home_ok() { run_in home $PEER udp-send "$OFFICE_HOST" 5001 "$1" --timeout 1 >/dev/null 2>&1; }

# first_flow TAG: the trap policy has no SA: a blocking UDP sender on the
# home box gets EAGAIN from the very call, the negotiation starts, and once
# the CHILD_SA is up sends succeed; then UDP and TCP from the home box and
# the LAN reach the office from $MAPPED.
first_flow() {
	local tag=$1 out start refused
	refused=$(key_field "reqid=$IKE_REQID" pending_refused)
	out=$(run_in home $PEER udp-send "$OFFICE_HOST" 5001 "first-$tag" --timeout 2 2>&1) &&
		fail "the first send ($tag) succeeded before any SA existed: $out"
	assert_contains "$out" "errno EAGAIN" "first UDP send ($tag)"
	assert_eq $((refused + 1)) "$(key_field "reqid=$IKE_REQID" pending_refused)" "refused flows of reqid=$IKE_REQID ($tag)"
	start=$(date +%s.%N)
	wait_for 90 "a send to succeed once the CHILD_SA is up ($tag)" udp_from_home_ok "after-ike-$tag"
	log "$tag: the tunnel carried traffic $(fcalc "$(date +%s.%N) - $start") s after the first send"
	home_sa_up || fail "no SA of reqid $IKE_REQID home -> office gateway: $(run_in home ip xfrm state)"
	exchange lan tcp "lan-tcp-$tag"
	exchange lan udp "lan-udp-$tag"
	exchange home tcp "home-tcp-$tag"
}

# first_flow_hold TAG: as first_flow, the mapping in hold mode: the very
# first datagram waits while the negotiation it starts runs, and is
# delivered (its reply comes back); counted held and released.
first_flow_hold() {
	local tag=$1 out c
	c=$(key_fields "reqid=$IKE_REQID" held released)
	out=$(run_in home $PEER udp-send "$OFFICE_HOST" 5001 "first-$tag" --timeout 60 --trace 2>&1) ||
		fail "the first datagram ($tag) got no reply: $out"
	assert_contains "$out" "ok first-$tag" "reply to the first datagram ($tag)"
	log "$tag: the first datagram's reply came $(fcalc "$(trace_time reply <<<"$out") - $(trace_time start <<<"$out")") s after the send"
	assert_eq "$(( ${c% *} + 1 )) $(( ${c#* } + 1 ))" "$(key_fields "reqid=$IKE_REQID" held released)" "held, released ($tag)"
	assert_eq 0 "$(key_field "reqid=$IKE_REQID" pending_refused)" "refused flows ($tag)"
	home_sa_up || fail "no SA of reqid $IKE_REQID home -> office gateway: $(run_in home ip xfrm state)"
	exchange lan tcp "lan-tcp-$tag"
	exchange lan udp "lan-udp-$tag"
	exchange home tcp "home-tcp-$tag"
}

# ike_restart_scenario DAEMON FAMILY [MODE]: the trap policy of a CHILD_SA with a
# pinned reqid, mapped by reqid; the first flow gets EAGAIN, the CHILD_SA
# comes up, traffic flows from $MAPPED.  A spid mapping of the trap's index
# wins over the reqid mapping.  The daemon restarts: its trap policy comes
# back under a new index; the reqid mapping binds it by itself, the spid
# mapping stays inactive with its reason; the next flow gets EAGAIN, the
# CHILD_SA comes up again, traffic flows from $MAPPED.  No plaintext on the
# WAN throughout.  MODE: the reqid mapping's pending mode, eagain (the
# default) or hold (the first datagrams are held, then delivered, instead of
# refused).  For a libreswan whose trap policy has no reqid (4.10, Debian
# 12's), see libreswan_trap_without_reqid.
ike_restart_scenario() {
	local daemon=$1 fam=$2 mode=${3:-eagain} idx1 idx2 reqid flows
	case $mode in eagain | hold) ;; *) fail "ike_restart_scenario: mode eagain or hold" ;; esac
	howto_setup "$fam"
	ike_topology_flush
	capture_start router r-home wan

	ike_start "$daemon" office
	ike_start "$daemon" home
	wait_for 60 "$daemon's trap policy on the home box" test -n "$(trap_index)"
	idx1=$(trap_index)
	reqid=$(trap_reqid)
	log "$daemon's trap policy: index $idx1, template reqid $reqid"
	load_module
	xnat map "reqid=$IKE_REQID" to "$MAPPED" pending "$mode"

	if [ "$daemon" = libreswan ] && [ "$reqid" = 0 ]; then
		libreswan_trap_without_reqid "$idx1" before
	else
		assert_eq "$IKE_REQID" "$reqid" "the trap policy's template reqid"
		assert_eq "active $idx1" "$(key_field "reqid=$IKE_REQID" state) $(key_field "reqid=$IKE_REQID" policies)" \
			"reqid mapping: state, bound policies"
		if [ "$mode" = hold ]; then first_flow_hold before; else first_flow before; fi
	fi
	assert_eq "$MAPPED" "$(office_sources)" "sources seen by the office host before the restart"

	log "a spid mapping of the same policy wins over the reqid mapping"
	xnat map "spid=$idx1" to "$MAPPED"
	assert_eq active "$(key_field "spid=$idx1" state)" "spid mapping's state"
	flows=$(key_field "reqid=$IKE_REQID" flows)
	exchange lan udp spid-wins
	assert_eq 1 "$(key_field "spid=$idx1" flows)" "flows of the spid mapping"
	assert_eq "$flows" "$(key_field "reqid=$IKE_REQID" flows)" "flows of the reqid mapping"

	log "$daemon restarts on the home box"
	ike_stop_home "$daemon"
	wait_for 30 "the trap policy to go with the daemon" no_trap
	wait_for 10 "the reqid mapping to go inactive" key_field_is "reqid=$IKE_REQID" state inactive
	assert_eq "no IPv$FAM out policy with a template of reqid $IKE_REQID" "$(key_field "reqid=$IKE_REQID" reason)" "reason of the reqid mapping, daemon stopped"
	ike_start "$daemon" home
	wait_for 60 "$daemon's trap policy after the restart" test -n "$(trap_index)"
	idx2=$(trap_index)
	log "the trap policy's index: $idx1 before the restart, $idx2 after"
	assert_ne "$idx1" "$idx2" "the trap policy's index after the restart"
	assert_eq inactive "$(key_field "spid=$idx1" state)" "the spid mapping of the old index"
	assert_eq "no out policy with index $idx1" "$(key_field "spid=$idx1" reason)" "reason of the spid mapping"
	xnat show

	if [ "$daemon" = libreswan ] && [ "$(trap_reqid)" = 0 ]; then
		libreswan_trap_without_reqid "$idx2" after
	else
		wait_for 10 "the reqid mapping to bind index $idx2" key_field_is "reqid=$IKE_REQID" policies "$idx2"
		assert_eq active "$(key_field "reqid=$IKE_REQID" state)" "reqid mapping's state after the restart"
		assert_eq None "$(key_field "reqid=$IKE_REQID" reason)" "reqid mapping's reason after the restart"
		if [ "$mode" = hold ]; then first_flow_hold after; else first_flow after; fi
	fi
	xnat -j show "reqid=$IKE_REQID"
	assert_eq "$MAPPED" "$(office_sources)" "sources seen by the office host"
	assert_eq inactive "$(key_field "spid=$idx1" state)" "the spid mapping of the old index, at the end"

	capture_stop wan
	wan_only_ike_esp wan "$MAPPED"
}

# wan_only_ike_esp CAPTURE MAPPED: the capture CAPTURE of the WAN has no
# packet of the office host, of MAPPED or of the LAN host in the clear,
# nothing but $IKE_WAN_TRAFFIC, and ESP to the office gateway (8 packets at
# least).
wan_only_ike_esp() {
	local cap=$1 plain_filter="host $OFFICE_HOST or host $2 or host $LAN_HOST" plain others
	plain=$(capture_count "$cap" "$plain_filter")
	[ "$plain" = 0 ] || fail "plaintext on the WAN: $(capture_show "$cap" "$plain_filter" | head -n 20)"
	others=$(capture_count "$cap" "not ($IKE_WAN_TRAFFIC)")
	[ "$others" = 0 ] ||
		fail "$others packet(s) on the WAN other than ESP and IKE: $(capture_show "$cap" "not ($IKE_WAN_TRAFFIC)" | head -n 20)"
	assert_ge 8 "$(capture_count "$cap" "esp and src host $HOME_WAN and dst host $GW_WAN")" "ESP packets to the office gateway"
}

# libreswan_trap_without_reqid INDEX WHEN: libreswan 4.10's on-demand trap
# policy has a template of reqid 0 (the conn's reqid= appears only once the
# IPsec SA is up: libreswan puts it into trap policies only since 2026,
# libreswan pull request 2811), so no reqid mapping can bind it and a first
# packet cannot start the negotiation through one.  Asserted as such: the
# reqid mapping is inactive, with its reason; the negotiation is started by
# whack --initiate; the SA's policy, the same index updated in place with
# reqid $IKE_REQID, is then bound, and traffic flows from $MAPPED.
libreswan_trap_without_reqid() {
	local idx=$1 when=$2
	log "NOTE: libreswan $(cat "$LSW_ROOT/.version" 2>/dev/null) installs its on-demand trap policy (index $idx) with template reqid 0, not the conn's reqid=$IKE_REQID: a reqid mapping cannot bind it, the first packet cannot trigger the negotiation through it ($when the restart); the tunnel is brought up with whack --initiate"
	assert_eq inactive "$(key_field "reqid=$IKE_REQID" state)" "reqid mapping while the trap has reqid 0"
	assert_eq "no IPv$FAM out policy with a template of reqid $IKE_REQID" "$(key_field "reqid=$IKE_REQID" reason)" "reason of the reqid mapping while the trap has reqid 0"
	# whack's exit status tells little (it waits for the SA, or not); the SA
	# in the kernel is what counts.
	run_in home timeout 60 "$LSW_EXEC/whack" --ctlsocket "$XNAT_TMP/home/run/pluto.ctl" \
		--initiate --name tunnel >"$XNAT_TMP/initiate-$when.log" 2>&1 || true
	wait_for 90 "the IPsec SA of reqid $IKE_REQID ($when)" home_sa_up
	wait_for 10 "the trap policy to carry reqid $IKE_REQID" trap_reqid_is "$IKE_REQID"
	assert_eq "$idx" "$(trap_index)" "the policy's index once the SA is up (updated in place)"
	wait_for 10 "the reqid mapping to bind index $idx" key_field_is "reqid=$IKE_REQID" policies "$idx"
	assert_eq active "$(key_field "reqid=$IKE_REQID" state)" "reqid mapping's state with the SA up"
	exchange lan tcp "lan-tcp-$when"
	exchange lan udp "lan-udp-$when"
	exchange home tcp "home-tcp-$when"
}
