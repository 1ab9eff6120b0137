#!/usr/bin/env bash
# A policy template without a local address teaches the module nothing
# about the SAs of its policy's other flows.  The mapped policy's template
# names only the office gateway (`tmpl dst $GW_WAN`, no src): the kernel
# takes each new flow's local tunnel address from the route to the gateway
# at the time of its lookup (xfrm_tmpl_resolve_one() -> xfrm_get_saddr(),
# which looks the gateway up in the flow's VRF, if any, not through the
# flow's interface).  The home box has a second uplink (wan1, 200.2.3.2);
# only the SA from its first ($HOME_WAN) exists.  Three exchanges with the
# office go through, translated, in ESP from $HOME_WAN.  Then the route to
# the gateway moves to wan1, as when the home box changes uplinks (no SPD
# or SAD event): a blocking UDP send to the office must still be looked up
# by the module; its SA (from 200.2.3.2) is pending, an ACQUIRE goes out,
# eagain mode refuses the flow (EAGAIN at once, pending_refused counted),
# and nothing leaves, in ESP or in the clear.  Before 8ab523f the first
# exchanges taught the module that the policy's SAs serve all its flows,
# the new flow skipped the lookup and the NAT core's own failed with
# EREMOTE (net.core.xfrm_larval_drop).  Once the SA from 200.2.3.2 is
# added, new flows leave by wan1 in ESP from it.  IPv4.
# timeout: 120
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../field.sh"

field_require

field_net 4
HOME_WAN1=200.2.3.2 ROUTER_HOME2=200.2.3.1
veth_pair home wan1 "$HOME_WAN1/$PLEN" router r-home2 "$ROUTER_HOME2/$PLEN"
run_in home ip xfrm policy add src "$MAPPED/32" dst "$OFFICE_NET" dir out index "$SPID" \
	tmpl dst "$GW_WAN" proto esp reqid 1 mode tunnel
howto_return_policies "$MAPPED/32" "$OFFICE_NET"
# Without it the NAT core's lookup would wait for the SA, not fail.
run_in home sysctl -qw net.core.xfrm_larval_drop=1

# local_to_gw: the local address of the home box's route to the gateway,
# the template's local address for a new flow.
local_to_gw() { run_in home ip -4 route get "$GW_WAN" | sed -n 's/.* src \([0-9.]*\).*/\1/p'; }
assert_eq "$HOME_WAN" "$(local_to_gw)" "local address towards $GW_WAN"

load_module
xnat map "spid=$SPID" to "$MAPPED"
assert_eq eagain "$(mapping_field "$SPID" pending)" "pending mode"

run_in home ip xfrm monitor acquire >"$XNAT_TMP/acquire.log" 2>&1 &
on_exit "kill $!"
capture_start router r-home wan0
capture_start router r-home2 wan1

log "three new flows to $OFFICE_HOST by wan0: translated, in ESP from $HOME_WAN"
for i in 1 2 3; do exchange home udp "by-wan0-$i"; done
assert_eq "$MAPPED" "$(office_sources)" "sources seen by the office"
assert_eq 3 "$(office_count by-wan0-)" "datagrams by wan0 at the office"
assert_eq 0 "$(mapping_field "$SPID" pending_refused)" "refused flows while the SA is there"
assert_eq "" "$(cat "$XNAT_TMP/acquire.log")" "ACQUIREs while the SA is there"

log "the route to $GW_WAN moves to wan1: a new flow's tunnel starts at $HOME_WAN1, whose SA is missing"
run_in home ip route add "$GW_WAN/32" via "$ROUTER_HOME2" dev wan1
assert_eq "$HOME_WAN1" "$(local_to_gw)" "local address towards $GW_WAN"
esp0=$(capture_count wan0 esp)
out=$(run_in home timeout 30 $PEER udp-send "$OFFICE_HOST" 5001 by-wan1 --timeout 2 2>&1) &&
	fail "UDP send succeeded with no SA from $HOME_WAN1: $out"
log "the sender: $out"
assert_contains "$out" "errno EAGAIN" "UDP sendto while the SA from $HOME_WAN1 is pending"
assert_eq 1 "$(mapping_field "$SPID" pending_refused)" "refused flows"
wait_for 10 "the ACQUIRE" grep -q acquire "$XNAT_TMP/acquire.log"
sed 's/^/#   /' "$XNAT_TMP/acquire.log"
assert_contains "$(cat "$XNAT_TMP/acquire.log")" "sel src $MAPPED/32 dst $OFFICE_HOST/32" "the ACQUIRE's selector (the translated flow)"
# The kernel's record of the ACQUIRE, its larval SA, names the SA asked for.
larval=$(run_in home ip xfrm state list dst "$GW_WAN" reqid 1)
printf '%s\n' "$larval" | sed 's/^/#   /'
assert_contains "$larval" "src $HOME_WAN1 dst $GW_WAN" "the SA the kernel acquires"
sleep 0.5
assert_eq 0 "$(office_count by-wan1)" "refused datagrams at the office"
assert_eq "$esp0" "$(capture_count wan0 esp)" "ESP packets by wan0 since the route moved"
assert_eq 0 "$(capture_count wan1 esp)" "ESP packets by wan1 without its SA"

log "the SA from $HOME_WAN1 arrives: new flows leave by wan1, in ESP from it"
run_in home ip xfrm state add src "$HOME_WAN1" dst "$GW_WAN" proto esp spi 0x1001 reqid 1 \
	mode tunnel aead "rfc4106(gcm(aes))" "$KEY_OUT" 128
# No reply: the office gateway's policies take ESP from $HOME_WAN only.
out=$(run_in home $PEER udp-send "$OFFICE_HOST" 5001 by-wan1-sa --no-reply 2>&1) ||
	fail "UDP send failed with the SA from $HOME_WAN1 there: $out"
assert_contains "$out" "sent 1 failed 0" "UDP send with the SA from $HOME_WAN1"
assert_eq 1 "$(mapping_field "$SPID" pending_refused)" "refused flows after the SA came"
capture_stop wan0
capture_stop wan1
assert_ge 6 "$(capture_count wan0 "esp and host $HOME_WAN and host $GW_WAN")" "ESP packets by wan0"
assert_eq 1 "$(capture_count wan1 "esp and src host $HOME_WAN1 and dst host $GW_WAN")" "ESP packets by wan1"
plain="not esp and not arp and not ip6"
for c in wan0 wan1; do
	[ "$(capture_count "$c" "$plain")" = 0 ] ||
		fail "packets outside ESP on $c: $(capture_show "$c" "$plain" | head -n 20)"
done
xnat show
assert_eq 0 "$(mapping_field "$SPID" fail_closed_drops)" "fail-closed drops"
