#!/usr/bin/env bash
# Destination NAT before the mapping: the SPD is asked for the packet's
# destination after DNAT, so the mapping must be too.
#   (a) the home box's OUTPUT DNAT of 198.51.100.7:5001 to the office host:
#       the flow goes to the office, so it is translated into the tunnel
#       (the original destination is outside the mapped policy);
#   (b) the same in PREROUTING, for the LAN's flows;
#   (c) a flow to the office host's port 5009, DNATed to the router (outside
#       the office net, reachable in plaintext): the SPD gives the flow as it
#       will leave no policy, so it must be left as it is and reach the
#       router from the WAN address, not be translated (its original
#       destination is in the mapped policy) and dropped as fail-closed with
#       EHOSTUNREACH.
# timeout: 180
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../field.sh"

field_require nft

VIP=198.51.100.7
howto_setup 4
run_in router $PEER udp-server 5009 "$XNAT_TMP/router.log" &
on_exit "kill $!"
wait_for 30 "the router's UDP server" test -e "$XNAT_TMP/router.log.ready-udp5009"
run_in home nft -f - <<EOF2
table ip vip {
	chain out {
		type nat hook output priority -100; policy accept;
		ip daddr $VIP udp dport 5001 dnat to $OFFICE_HOST
		ip daddr $OFFICE_HOST udp dport 5009 dnat to $ROUTER_HOME
	}
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr $VIP udp dport 5001 dnat to $OFFICE_HOST
	}
}
EOF2

# to_router TAG: a UDP exchange from the home box with the office host's
# port 5009, which the router answers.
to_router() { run_in home $PEER udp-send "$OFFICE_HOST" 5009 "$1" --timeout 5 2>&1; }

log "the plumbing: without a mapping, the DNAT to the router works"
out=$(to_router plumb) || fail "UDP to $OFFICE_HOST:5009 (DNAT to the router) without a mapping: $out"
assert_contains "$out" "ok plumb" "reply through the DNAT"

load_module
xnat map "spid=$SPID" to "$MAPPED"
capture_start router r-home wan

log "(a) the home box's flow to $VIP, DNATed to $OFFICE_HOST, is translated into the tunnel"
exchange home udp dnat-home "$VIP"
assert_eq "$MAPPED" "$(office_src dnat-home)" "source of the home box's DNATed flow at the office"

log "(b) the LAN's flow to $VIP, DNATed in PREROUTING, is translated into the tunnel"
exchange lan udp dnat-lan "$VIP"
assert_eq "$MAPPED" "$(office_src dnat-lan)" "source of the LAN's DNATed flow at the office"

log "(c) the home box's flow to $OFFICE_HOST:5009, DNATed out of the office net, is left as it is"
out=$(to_router dnat-out) || fail "UDP to $OFFICE_HOST:5009 (DNAT to the router) with the mapping: $out"
assert_contains "$out" "ok dnat-out" "reply through the DNAT with the mapping"
assert_contains "$(cat "$XNAT_TMP/router.log")" "udp $HOME_WAN dnat-out" "what the router received"
capture_stop wan

assert_ge 4 "$(capture_count wan "esp and host $GW_WAN")" "ESP packets on the WAN"
no_plaintext wan "$MAPPED" "$OFFICE_HOST" "$VIP"
assert_ge 1 "$(capture_count wan "udp and src host $HOME_WAN and dst host $ROUTER_HOME and dst port 5009")" "the DNATed flow to the router, untranslated"
xnat show
assert_eq 0 "$(mapping_field "$SPID" fail_closed_drops)" "fail-closed drops"
assert_ge 2 "$(mapping_field "$SPID" flows)" "flows of the mapping"
