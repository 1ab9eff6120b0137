#!/usr/bin/env bash
# Two mappings to two policies with different addresses: each flow gets the
# address of the policy that covers its destination; a flow that no mapping
# covers leaves untouched, in plaintext, with its own source.
# timeout: 150
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../howto.sh"

require_root
require_cmd ip tcpdump python3
require_module
require_ctl

howto_setup 4
# A second office network behind the same gateway, reached through a second
# policy (index 321) that wants source 172.31.0.2.
netns_create other
veth_pair gw lan1 "$OTHER_GW/24" other eth0 "$OTHER_HOST/24"
run_in other ip route add default via "$OTHER_GW"
OTHER_MAPPED=172.31.0.2
run_in home ip xfrm policy add src "$OTHER_MAPPED/32" dst "$OTHER_NET" dir out index 321 \
	tmpl src "$HOME_WAN" dst "$GW_WAN" proto esp reqid 1 mode tunnel
howto_return_policies "$OTHER_MAPPED/32" "$OTHER_NET"
run_in other $PEER udp-server 5001 "$XNAT_TMP/other.log" &
on_exit "kill $!"
touch "$XNAT_TMP/other.log"
# The router's own server stands for "the Internet": no mapping covers it.
run_in router $PEER udp-server 5001 "$XNAT_TMP/internet.log" &
on_exit "kill $!"
touch "$XNAT_TMP/internet.log"
wait_for 30 "the UDP servers" test -e "$XNAT_TMP/other.log.ready-udp5001" -a -e "$XNAT_TMP/internet.log.ready-udp5001"

load_module
xnat map spid=305 to "$MAPPED"
xnat map spid=321 to "$OTHER_MAPPED"
assert_eq active "$(mapping_field 321 state)" "state of the second mapping"

capture_start router r-home wan
exchange home udp to-office
out=$(run_in home $PEER udp-send "$OTHER_HOST" 5001 to-other --timeout 5 2>&1) ||
	fail "UDP to $OTHER_HOST failed: $out"
out=$(run_in lan $PEER udp-send "$OTHER_HOST" 5001 lan-to-other --timeout 5 2>&1) ||
	fail "UDP from the LAN to $OTHER_HOST failed: $out"
out=$(run_in home $PEER udp-send "$ROUTER_HOME" 5001 to-internet --timeout 5 2>&1) ||
	fail "UDP to $ROUTER_HOME (no mapping) failed: $out"
capture_stop wan

assert_eq "$MAPPED" "$(office_sources)" "source seen by the first office network"
assert_eq "$OTHER_MAPPED" "$(awk '{print $2}' "$XNAT_TMP/other.log" | sort -u)" "source seen by the second office network"
assert_eq "$HOME_WAN" "$(awk '{print $2}' "$XNAT_TMP/internet.log" | sort -u)" "source of the unmapped flow"
assert_ge 1 "$(capture_count wan "udp and src host $HOME_WAN and dst host $ROUTER_HOME")" "unmapped flow in plaintext"
assert_eq 0 "$(capture_count wan "host $OTHER_HOST or host $OTHER_MAPPED or host $MAPPED")" "plaintext of mapped flows"
assert_eq 1 "$(mapping_field 305 flows)" "flows of spid 305"
assert_eq 2 "$(mapping_field 321 flows)" "flows of spid 321"
xnat show
