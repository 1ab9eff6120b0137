#!/usr/bin/env bash
# Two sites with the same LAN (192.168.1.0/24; fd00:1::/64): the home box
# does all the translation, the office needs no NAT.
#
#   home LAN host 192.168.1.10   sees the office host as 10.99.1.7 (alias)
#   office host   192.168.1.7    sees the home LAN host as 10.20.30.10
#
# with `map spid=305 from 192.168.1.0/24 to 10.20.30.0/24 remote
# 10.99.1.0/24 is 192.168.1.0/24 inbound` and a tunnel whose policies
# select 10.20.30.0/24 <-> 192.168.1.0/24 (what strongSwan's local_ts and
# remote_ts would be).
#   - Refused at map time, with the reason: a remote prefix the policy's
#     destination selector does not contain, a to prefix outside its source
#     selector, an alias that overlaps another mapping's.
#   - The home LAN host reaches the office host at its alias by UDP, TCP
#     and ping; the office host sees 10.20.30.10; the replies come back
#     from the alias.  The home box's own flows too, from a LAN address.
#   - The office host reaches the home LAN host at 10.20.30.10 by UDP, TCP
#     and ping; the LAN host sees the office host's alias.
#   - Only ESP on the WAN.
#   - A live flow to the alias goes on through the tunnel after unmap.
#   - Fail-closed: the out policy deleted under a live flow to the alias,
#     nothing leaves in the clear, fail-closed-drops counts; a new flow to
#     the alias is dropped too, and a local sender gets EHOSTUNREACH.
# families: 4 6
# timeout: 480
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../howto.sh"

require_root
require_cmd ip python3 tcpdump ping
require_module
require_ctl

FAMILY=$(test_family)
ICMP=icmp
[ "$FAMILY" = 4 ] || ICMP=icmp6

twice_vars() {
	case $1 in
	4)
		SITE_NET=192.168.1.0/24 TO_NET=10.20.30.0/24 ALIAS_NET=10.99.1.0/24
		SITE_HOST=192.168.1.7 SITE_GW=192.168.1.254
		LAN_SEEN=10.20.30.10 SITE_SEEN=10.99.1.7 HOME_SEEN=10.20.30.1
		NARROW_DST=192.168.1.0/25 OTHER_TO=10.20.31.0/24 OTHER_ADDR=10.20.31.1
		OVERLAP=10.99.1.128/25 OVERLAP_REAL=192.168.1.128/25
		;;
	6)
		SITE_NET=fd00:1::/64 TO_NET=fd00:20::/64 ALIAS_NET=fd99:1::/64
		SITE_HOST=fd00:1::7 SITE_GW=fd00:1::fe
		LAN_SEEN=fd00:20::10 SITE_SEEN=fd99:1::7 HOME_SEEN=fd00:20::1
		NARROW_DST=fd00:1::/65 OTHER_TO=fd00:21::/64 OTHER_ADDR=fd00:21::1
		OVERLAP=fd99:1::/65 OVERLAP_REAL=fd00:1::/65
		;;
	esac
}

# twice_setup FAMILY: the reference topology, with the office's LAN on the
# home LAN's prefix, and the tunnel between the mapped and the remote
# prefix.
twice_setup() {
	howto_net "$1"
	twice_vars "$1"
	run_in gw ip addr flush dev lan0 scope global
	_xnat_addr_add gw lan0 "$SITE_GW/$PLEN"
	run_in office ip addr flush dev eth0 scope global
	_xnat_addr_add office eth0 "$SITE_HOST/$PLEN"
	run_in office ip -"$FAM" route replace default via "$SITE_GW"
	OFFICE_HOST=$SITE_HOST
	if [ "$1" = 4 ]; then
		# The remote site's addresses arrive on the WAN, where a strict
		# reverse path filter would take them for the LAN's: loose, as the
		# docs ask.
		run_in home sysctl -qw net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.wan0.rp_filter=2
	fi
	howto_sas
	run_in home ip xfrm policy add src "$TO_NET" dst "$SITE_NET" dir out index "$SPID" \
		tmpl src "$HOME_WAN" dst "$GW_WAN" proto esp reqid 1 mode tunnel
	howto_return_policies "$TO_NET" "$SITE_NET"
	howto_servers
	howto_servers lan
}

lan_count() { grep -c -- " $1" "$XNAT_TMP/lan.log" || true; }
stat_ge() { [ "$(key_field "spid=$SPID" "$1")" -ge "$2" ]; }

# refused WHY MAP-ARGS...: `xnatctl map MAP-ARGS` fails, saying WHY.
refused() {
	local why=$1 out
	shift
	out=$(xnat map "$@" 2>&1) && fail "map $* succeeded: $out"
	log "xnatctl said: $out"
	assert_contains "$out" "$why" "the refusal of map $*"
}

twice_setup "$FAMILY"
load_module

phase "IPv$FAMILY: refusals: remote outside the policy's destinations, to outside its sources"
SPID2=$((SPID + 16))
run_in home ip xfrm policy add src "$TO_NET" dst "$NARROW_DST" dir out index "$SPID2" \
	tmpl src "$HOME_WAN" dst "$GW_WAN" proto esp reqid 3 mode tunnel
refused "policy $SPID2 selects dst $NARROW_DST, not remote $SITE_NET" \
	"spid=$SPID2" from "$SITE_NET" to "$TO_NET" remote "$ALIAS_NET" is "$SITE_NET"
refused "policy $SPID selects src $TO_NET, not $OTHER_TO" \
	"spid=$SPID" from "$SITE_NET" to "$OTHER_TO" remote "$ALIAS_NET" is "$SITE_NET"
assert_eq "[]" "$(xnat -j show)" "mappings after the refusals"
# Gone again: it would take the translated flows once the tunnel's policy
# goes (and, with no SA, have the NAT core drop them before fail-closed
# could count them).
run_in home ip xfrm policy delete src "$TO_NET" dst "$NARROW_DST" dir out

phase "IPv$FAMILY: map from $SITE_NET to $TO_NET remote $ALIAS_NET is $SITE_NET inbound"
xnat map "spid=$SPID" from "$SITE_NET" to "$TO_NET" remote "$ALIAS_NET" is "$SITE_NET" inbound
xnat show
assert_eq "active ${SITE_NET%/*} ${ALIAS_NET%/*} ${SITE_NET#*/} True" \
	"$(key_fields "spid=$SPID" state remote remote_alias remote_prefix_len inbound)" "the mapping's remote part"
assert_contains "$(xnat save)" "remote $ALIAS_NET is $SITE_NET" "save"
refused "the remote alias overlaps that of spid $SPID" \
	reqid=9 to "$OTHER_ADDR" remote "$OVERLAP" is "$OVERLAP_REAL"

phase "IPv$FAMILY: the home LAN host reaches the office host at $SITE_SEEN"
capture_start router r-home wan
capture_start office eth0 office
exchange lan udp out-udp "$SITE_SEEN"
exchange lan tcp out-tcp "$SITE_SEEN"
ping_ok lan "$SITE_SEEN"
# The home box's own flow, from its LAN address.
out=$(run_in home $PEER udp-send "$SITE_SEEN" 5001 out-local --bind "[$LAN_GW]:0" --timeout 5 2>&1) ||
	fail "the home box's own flow to $SITE_SEEN: $out"
assert_contains "$out" "ok out-local" "the reply to the home box"
assert_eq "udp $LAN_SEEN out-udp|tcp $LAN_SEEN out-tcp|udp $HOME_SEEN out-local" \
	"$(paste -sd'|' "$XNAT_TMP/office.log")" "what the office host received, from whom"
assert_ge 1 "$(capture_count office "$ICMP and src host $LAN_SEEN and dst host $SITE_HOST")" "echo requests at the office host from $LAN_SEEN"

phase "IPv$FAMILY: the office host reaches the home LAN host at $LAN_SEEN"
capture_start lan eth0 lan
exchange office udp in-udp "$LAN_SEEN"
exchange office tcp in-tcp "$LAN_SEEN"
ping_ok office "$LAN_SEEN"
capture_stop lan
capture_stop office
capture_stop wan
assert_eq "udp $SITE_SEEN in-udp|tcp $SITE_SEEN in-tcp" "$(paste -sd'|' "$XNAT_TMP/lan.log")" "what the LAN host received, from whom"
assert_ge 1 "$(capture_count lan "$ICMP and src host $SITE_SEEN and dst host $LAN_HOST")" "echo requests at the LAN host from $SITE_SEEN"
# Neither site ever sees the other's own address, which is one of its own
# prefix.
assert_eq 0 "$(capture_count office "host $LAN_HOST")" "packets with the home LAN host's own address at the office"
assert_eq 0 "$(capture_count lan "host $SITE_HOST")" "packets with the office host's own address at the LAN host"
for p in udp tcp "$ICMP"; do
	assert_ge 1 "$(capture_count lan "$p and src host $SITE_SEEN and dst host $LAN_HOST")" "$p from $SITE_SEEN at the LAN host"
done
plain="net $SITE_NET or net $TO_NET or net $ALIAS_NET"
[ "$(capture_count wan "$plain")" = 0 ] || fail "plaintext on the WAN: $(capture_show wan "$plain")"
assert_eq 0 "$(capture_count wan "not esp and not arp and not icmp6")" "non-ESP packets on the WAN"
assert_ge 10 "$(capture_count wan "esp and src host $HOME_WAN and dst host $GW_WAN")" "ESP packets to the office gateway"
assert_ge 4 "$(key_field "spid=$SPID" flows)" "flows (the LAN's, to the alias)"
assert_ge 3 "$(key_field "spid=$SPID" inbound_flows)" "inbound-flows (the office's)"

phase "IPv$FAMILY: unmap under a live flow to the alias: it goes on through the tunnel"
capture_start router r-home unmap
run_in lan $PEER udp-send "$SITE_SEEN" 5001 live --count 400 --interval 0.05 --keep-going >"$XNAT_TMP/live.out" 2>&1 &
sender=$!
on_exit "kill $sender 2>/dev/null"
wait_for 60 "3 datagrams of the live flow at the office" office_count_ge live 3
xnat unmap "spid=$SPID"
arrived=$(office_count live)
wait_for 60 "the live flow to go on at the office" office_count_ge live $((arrived + 5))
kill "$sender" 2>/dev/null || true
wait "$sender" 2>/dev/null || true
capture_stop unmap
[ "$(capture_count unmap "$plain")" = 0 ] || fail "plaintext on the WAN after unmap: $(capture_show unmap "$plain" | head -n 20)"
assert_eq 0 "$(capture_count unmap "not esp and not arp and not icmp6")" "non-ESP packets on the WAN"
assert_eq "udp $LAN_SEEN" "$(grep -- " live" "$XNAT_TMP/office.log" | awk '{ print $1, $2 }' | sort -u)" "the live flow's source at the office, before and after unmap"
xnat map "spid=$SPID" from "$SITE_NET" to "$TO_NET" remote "$ALIAS_NET" is "$SITE_NET" inbound

phase "IPv$FAMILY: fail-closed: the out policy goes under a live flow to the alias"
capture_start router r-home fc
run_in lan $PEER udp-send "$SITE_SEEN" 5001 fc --count 600 --interval 0.05 --keep-going >"$XNAT_TMP/fc.out" 2>&1 &
sender=$!
on_exit "kill $sender 2>/dev/null"
wait_for 60 "3 datagrams of the live flow at the office" office_count_ge fc 3
drops=$(key_field "spid=$SPID" fail_closed_drops)
run_in home ip xfrm policy delete src "$TO_NET" dst "$SITE_NET" dir out
wait_for 30 "5 fail-closed drops" stat_ge fail_closed_drops $((drops + 5))
# A new flow to the alias, from the home box: refused at once.
out=$(run_in home $PEER udp-send "$SITE_SEEN" 5001 after-policy --bind "[$LAN_GW]:0" --timeout 2 2>&1) &&
	fail "a flow to the alias without the policy got through: $out"
assert_contains "$out" "errno EHOSTUNREACH" "the home box's flow to the alias without the policy"
kill "$sender" 2>/dev/null || true
wait "$sender" 2>/dev/null || true
capture_stop fc
[ "$(capture_count fc "not esp and ($plain)")" = 0 ] ||
	fail "plaintext on the WAN after the policy went: $(capture_show fc "not esp and ($plain)" | head -n 20)"
assert_eq 0 "$(capture_count fc "not esp and not arp and not icmp6")" "non-ESP packets on the WAN"
log "fail-closed drops: $drops before the policy went, $(key_field "spid=$SPID" fail_closed_drops) after"
xnat show
