#!/usr/bin/env bash
# Inbound to 1:1-mapped hosts: the office host opens flows to the LAN hosts
# at their mapped addresses, M1 and M2 in $TO_NET (tests/netmap.sh: L1 and
# L2 in $FROM_NET behind the home box, the tunnel's policies select
# $TO_NET).
#   - Without `inbound`, the mapping translates only what the LAN starts:
#     the office's datagram to M1 does not reach L1, nothing is counted.
#   - With it, UDP, TCP and ping from the office reach L1 and L2, which see
#     the office host's own address; the office sees the replies come from
#     M1 and M2; only ESP on the WAN; inbound-flows counts them.
#   - Plaintext from the WAN (the router, routing $TO_NET to the home box)
#     or from the LAN (L2) to M1 is dropped before it reaches L1:
#     inbound-refused.
#   - A datagram decrypted by an SA of another reqid (a second child
#     between the same gateways) is refused too.
#   - The LAN's own flows are translated as before.
#   - Fail-closed: the out policy deleted under a live inbound flow, L1's
#     replies are dropped (fail-closed-drops), never sent in the clear.
# families: 4 6
# timeout: 600
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../howto.sh"
. "$(dirname "$0")/../netmap.sh"

require_root
require_cmd ip python3 tcpdump ping
require_module
require_ctl

FAMILY=$(test_family)
ICMP=icmp
[ "$FAMILY" = 4 ] || ICMP=icmp6
# The SPI of the second child's SA (reqid 2), office gateway -> home.
SPI_OTHER_CHILD=0x3000

# lan_log NS: what the LAN host's servers received, one "proto src tag" a
# line, joined by '|'.
lan_log() { paste -sd'|' "$XNAT_TMP/$1.log"; }
# lan_count NS TAG: the exchanges of TAG that NS's servers logged.
lan_count() { grep -c -- " $2" "$XNAT_TMP/$1.log" || true; }
lan_count_ge() { [ "$(lan_count "$1" "$2")" -ge "$3" ]; }
# assert_inbound_counters FLOWS REFUSED: the mapping's inbound-flows and
# inbound-refused.
assert_inbound_counters() {
	assert_eq "$1 $2" "$(key_fields "spid=$SPID" inbound_flows inbound_refused)" "inbound-flows and inbound-refused"
}
stat_ge() { [ "$(key_field "spid=$SPID" "$1")" -ge "$2" ]; }

# not_delivered NS HOST TAG: a datagram from NS to HOST gets no reply.
not_delivered() {
	local out rc=0
	out=$(run_in "$1" $PEER udp-send "$2" 5001 "$3" --timeout 2 2>&1) || rc=$?
	assert_eq "3 timeout" "$rc $out" "the exchange '$3' from $1 to $2"
}

netmap_setup "$FAMILY"
howto_servers lan
howto_servers lan2
load_module

phase "IPv$FAMILY: without inbound, the office's datagram to $M1 does not reach $L1"
xnat map "spid=$SPID" from "$FROM_NET" to "$TO_NET"
assert_eq "active False" "$(key_fields "spid=$SPID" state inbound)" "state and inbound flag"
not_delivered office "$M1" plain-map
assert_eq "" "$(lan_log lan)" "what L1 received"
assert_inbound_counters 0 0

phase "IPv$FAMILY: with inbound, the office reaches $M1 and $M2 by UDP, TCP and ping"
xnat map "spid=$SPID" from "$FROM_NET" to "$TO_NET" inbound replace
assert_eq "active True" "$(key_fields "spid=$SPID" state inbound)" "state and inbound flag"
capture_start router r-home wan
capture_start office eth0 office
capture_start lan eth0 l1
exchange office udp in-udp-1 "$M1"
exchange office tcp in-tcp-1 "$M1"
exchange office udp in-udp-2 "$M2"
exchange office tcp in-tcp-2 "$M2"
ping_ok office "$M1"
ping_ok office "$M2"
capture_stop l1
capture_stop office
capture_stop wan
assert_eq "udp $OFFICE_HOST in-udp-1|tcp $OFFICE_HOST in-tcp-1" "$(lan_log lan)" "what L1 received, from whom"
assert_eq "udp $OFFICE_HOST in-udp-2|tcp $OFFICE_HOST in-tcp-2" "$(lan_log lan2)" "what L2 received, from whom"
assert_ge 1 "$(capture_count l1 "$ICMP and src host $OFFICE_HOST and dst host $L1")" "echo requests at L1 from the office host"
for m in "$M1" "$M2"; do
	for p in udp tcp "$ICMP"; do
		assert_ge 1 "$(capture_count office "$p and src host $m and dst host $OFFICE_HOST")" "$p replies from $m at the office"
	done
done
assert_eq 0 "$(capture_count office "host $L1 or host $L2")" "packets with a LAN address at the office"
plain="host $OFFICE_HOST or net $TO_NET or net $FROM_NET"
[ "$(capture_count wan "$plain")" = 0 ] || fail "plaintext on the WAN: $(capture_show wan "$plain")"
assert_eq 0 "$(capture_count wan "not esp and not arp and not icmp6")" "non-ESP packets on the WAN"
assert_ge 10 "$(capture_count wan "esp and src host $HOME_WAN and dst host $GW_WAN")" "ESP packets to the office gateway"
assert_inbound_counters 6 0

phase "IPv$FAMILY: plaintext from the WAN to $M1 is refused, nothing reaches the LAN"
run_in router ip -"$FAM" route add "$TO_NET" via "$HOME_WAN"
capture_start home lan0 lan-side
capture_start home lan1 lan2-side
not_delivered router "$M1" wan-plain
capture_stop lan2-side
capture_stop lan-side
assert_eq 0 "$(capture_count lan-side "host $ROUTER_HOME")" "packets from the router on home's link to L1"
assert_eq 0 "$(capture_count lan2-side "host $ROUTER_HOME")" "packets from the router on home's link to L2"
assert_eq 0 "$(lan_count lan wan-plain)" "datagrams from the WAN at L1"
assert_inbound_counters 6 1

phase "IPv$FAMILY: plaintext from the LAN (L2) to $M1 is refused as well"
capture_start home lan0 from-lan2
not_delivered lan2 "$M1" lan-plain
capture_stop from-lan2
assert_eq 0 "$(capture_count from-lan2 "host $L2")" "packets from L2 on home's link to L1"
assert_eq 0 "$(lan_count lan lan-plain)" "datagrams from L2 at L1"
assert_inbound_counters 6 2

phase "IPv$FAMILY: a datagram decrypted by an SA of another reqid is refused"
# A second child between the same gateways: the office gateway's policy
# for the office net now names reqid 2, whose SA home can decrypt.
xfrm_pair home "$GW_WAN" "$HOME_WAN" "$SPI_OTHER_CHILD" "$KEY_IN" 2
xfrm_pair gw "$GW_WAN" "$HOME_WAN" "$SPI_OTHER_CHILD" "$KEY_IN" 2
gw_out() {
	run_in gw ip xfrm policy update src "$OFFICE_NET" dst "$TO_NET" dir out \
		tmpl src "$GW_WAN" dst "$HOME_WAN" proto esp reqid "$1" mode tunnel
}
gw_out 2
not_delivered office "$M1" other-child
gw_out 1
assert_eq 1 "$(sa_packets home "$GW_WAN" "$HOME_WAN" "$SPI_OTHER_CHILD")" "packets decrypted by the reqid 2 SA at home"
assert_eq 0 "$(lan_count lan other-child)" "datagrams of the other child at L1"
assert_inbound_counters 6 3
exchange office udp back-to-reqid-1 "$M1"

phase "IPv$FAMILY: the LAN's own flows are still translated"
exchange lan udp out-udp-1
exchange lan2 tcp out-tcp-2
assert_eq "udp $M1 out-udp-1|tcp $M2 out-tcp-2" "$(paste -sd'|' "$XNAT_TMP/office.log")" "what the office host received, from whom"

phase "IPv$FAMILY: fail-closed: the out policy goes under a live inbound flow, L1's replies stay off the WAN"
capture_start router r-home fc
run_in office $PEER udp-send "$M1" 5001 fc --count 600 --interval 0.05 --keep-going >"$XNAT_TMP/fc.out" 2>&1 &
sender=$!
on_exit "kill $sender 2>/dev/null"
wait_for 60 "3 datagrams of the live flow at L1" lan_count_ge lan fc 3
drops=$(key_field "spid=$SPID" fail_closed_drops)
howto_policy_del
arrived=$(lan_count lan fc)
# L1 keeps answering: the flow still comes in through the tunnel.
wait_for 60 "the flow to go on at L1" lan_count_ge lan fc $((arrived + 5))
wait_for 30 "5 fail-closed drops" stat_ge fail_closed_drops $((drops + 5))
kill "$sender" 2>/dev/null || true
wait "$sender" 2>/dev/null || true
capture_stop fc
[ "$(capture_count fc "not esp and ($plain)")" = 0 ] ||
	fail "plaintext on the WAN after the policy went: $(capture_show fc "not esp and ($plain)" | head -n 20)"
assert_eq 0 "$(capture_count fc "not esp and not arp and not icmp6")" "non-ESP packets on the WAN"
log "fail-closed drops: $drops before the policy went, $(key_field "spid=$SPID" fail_closed_drops) after"
xnat show
