#!/usr/bin/env bash
# Stress 5: policy churn under NATed flows.  In the reference topology (the
# policy selects $MAPPED and $MAPPED2), with ping and UDP flows bound by
# the module running from the LAN and the home box and new flows starting
# all the time, for STRESS_SECONDS (at least 10 steps) the mapped policy is
# deleted, re-added, narrowed to $MAPPED alone and widened again, updated
# (ip xfrm policy update, another priority), and all of the home box's
# policies flushed (the return ones re-added at once), while the mapping is
# unmapped, re-made and replaced between the two addresses.  The mapping's
# state follows its policy as each step says; a capture on the WAN shows no
# plaintext packet with a mapped or formerly mapped address or the office
# host; the office sees only the mapped addresses.  Flows that no mapping
# translated are dropped by a firewall rule of the home box
# (guard_unmapped).
# timeout: 900
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../howto.sh"
. "$(dirname "$0")/stress.sh"

require_root
require_cmd ip tcpdump python3 ping nft
require_module
require_ctl
stress_budget 40

howto_setup 4 24
load_module
guard_unmapped "$OFFICE_NET"
xnat map "spid=$SPID" to "$MAPPED"
exchange lan udp warmup
capture_start router r-home policy

# The out policy at index $SPID: "wide" (src $MAPPED/24, both addresses),
# "narrow" (src $MAPPED/32), or absent ("").
pol=wide prio=0
pol_sel() { if [ "$1" = narrow ]; then echo "$MAPPED/32"; else echo "$MAPPED/24"; fi; }
pol_add() {
	run_in home ip xfrm policy add src "$(pol_sel "$1")" dst "$OFFICE_NET" dir out index "$SPID" priority "$prio" \
		tmpl src "$HOME_WAN" dst "$GW_WAN" proto esp reqid 1 mode tunnel
	pol=$1
}
pol_del() { run_in home ip xfrm policy delete src "$(pol_sel "$pol")" dst "$OFFICE_NET" dir out; pol=; }
pol_update() {
	prio=$((RANDOM % 4))
	run_in home ip xfrm policy update src "$(pol_sel "$pol")" dst "$OFFICE_NET" dir out index "$SPID" priority "$prio" \
		tmpl src "$HOME_WAN" dst "$GW_WAN" proto esp reqid 1 mode tunnel
}
# The return policies of the home box, after a flush.
home_return_policies() {
	local d
	for d in in fwd; do
		run_in home ip xfrm policy add src "$OFFICE_NET" dst "$MAPPED/24" dir "$d" \
			tmpl src "$GW_WAN" dst "$HOME_WAN" proto esp reqid 1 mode tunnel
	done
}
# The state the mapping must be in: active if its policy exists and admits
# its address.
expected_state() {
	if [ -n "$pol" ] && { [ "$pol" = wide ] || [ "$cur" = "$MAPPED" ]; }; then echo active; else echo inactive; fi
}

log "traffic: pings, two long UDP flows, new UDP flows one after another"
stop=$XNAT_TMP/stop
on_exit "touch $stop"
run_in lan ping -q -i 0.05 -w $((STRESS_SECONDS + 60)) "$OFFICE_HOST" >/dev/null 2>&1 &
on_exit "kill $! 2>/dev/null"
run_in home ping -q -i 0.1 -w $((STRESS_SECONDS + 60)) "$OFFICE_HOST" >/dev/null 2>&1 &
on_exit "kill $! 2>/dev/null"
lan_flow long-lan
run_in home $PEER udp-send "$OFFICE_HOST" 5001 long-home --count 100000 --interval 0.05 --keep-going \
	>"$XNAT_TMP/long-home.out" 2>&1 &
on_exit "kill $! 2>/dev/null"
# New UDP flows, one after another, from the LAN and the home box.
for ns in lan home; do
	run_in "$ns" python3 "$REPO/tests/stress/flows.py" "$OFFICE_HOST" "new-$ns" "$stop" --proto udp \
		>"$XNAT_TMP/new-$ns.out" 2>&1 &
	eval "flows_$ns=$!"
	on_exit "kill $! 2>/dev/null"
done

log "policy and mapping churn for $STRESS_SECONDS s"
cur=$MAPPED ops=0 checks=0 refusals=0
declare -A kinds=()
start=$EPOCHREALTIME end=$(stress_deadline)
while [ "$ops" -lt 10 ] || [ "$SECONDS" -lt "$end" ]; do
	r=$((RANDOM % 12))
	case $r in
	0 | 1)
		if [ -n "$pol" ]; then pol_del; kind=policy-delete; else pol_add wide; kind=policy-add; fi ;;
	2)
		if [ -n "$pol" ]; then pol_del; fi
		if [ $((RANDOM % 2)) = 0 ]; then pol_add narrow; else pol_add wide; fi
		kind=policy-reshape ;;
	3 | 4)
		if [ -n "$pol" ]; then pol_update; kind=policy-update; else pol_add wide; kind=policy-add; fi ;;
	5)
		run_in home ip xfrm policy flush
		pol=
		home_return_policies
		kind=policy-flush ;;
	6)
		if [ -n "$cur" ]; then xnat unmap "spid=$SPID"; cur=; kind=unmap
		else xnat map "spid=$SPID" to "$MAPPED"; cur=$MAPPED; kind=map; fi ;;
	*)
		new=$MAPPED
		[ "$cur" != "$MAPPED" ] || new=$MAPPED2
		if [ "$new" = "$MAPPED2" ] && [ "$pol" = narrow ]; then
			# The policy exists and does not admit the address: refused
			# with the reason, the mapping unchanged.
			out=$(xnat map "spid=$SPID" to "$new" replace 2>&1) && fail "a mapping to $new outside policy $SPID's selector was accepted: $out"
			assert_contains "$out" "selects src" "refusal of a mapping outside the policy's selector"
			refusals=$((refusals + 1))
			kind=map-refused
		else
			xnat map "spid=$SPID" to "$new" replace
			cur=$new
			kind=replace-addr
		fi ;;
	esac
	ops=$((ops + 1))
	kinds[$kind]=$((${kinds[$kind]:-0} + 1))
	if [ $((ops % 8)) = 0 ]; then
		want=
		# The policy resync is a work item: the state follows at once, not
		# within the same instant.
		[ -z "$cur" ] || want="$SPID $cur $(expected_state) eagain"
		state_is() { [ "$(map_desc home)" = "$want" ]; }
		wait_for 10 "the mapping to be '$want' after step $ops ($kind): $(map_desc home)" state_is
		checks=$((checks + 1))
	fi
done
elapsed=$(fcalc "${EPOCHREALTIME} - $start")
log "churn done: $ops steps; stopping the traffic"
touch "$stop"
wait "$flows_lan" || fail "the LAN's new flows failed: $(cat "$XNAT_TMP/new-lan.out")"
wait "$flows_home" || fail "the home box's new flows failed: $(cat "$XNAT_TMP/new-home.out")"
sed 's/^/# new flows from lan: /' "$XNAT_TMP/new-lan.out"
sed 's/^/# new flows from home: /' "$XNAT_TMP/new-home.out"
capture_stop policy
log "capture stopped: $(stat -c %s "$XNAT_TMP/policy.pcap") bytes"
for k in "${!kinds[@]}"; do log "steps $k: ${kinds[$k]}"; done

cnt() { awk -v k="$2" '$1 == "ok" { print (k == "ok" ? $2 : $4) }' "$1"; }
new_ok=$(($(cnt "$XNAT_TMP/new-lan.out" ok) + $(cnt "$XNAT_TMP/new-home.out" ok)))
new_failed=$(($(cnt "$XNAT_TMP/new-lan.out" failed) + $(cnt "$XNAT_TMP/new-home.out" failed)))
plain=$(capture_count policy "not esp and (host $MAPPED or host $MAPPED2 or host $OFFICE_HOST)")
esp=$(capture_count policy "esp and host $HOME_WAN and host $GW_WAN")
sources=$(office_sources | tr '\n' ' ')
fc=$(xnat -j show | python3 -c 'import json, sys; print(sum(m["stats"]["fail_closed_drops"] for m in json.load(sys.stdin)))')
policy_ops=0
for k in policy-delete policy-add policy-reshape policy-update policy-flush; do policy_ops=$((policy_ops + ${kinds[$k]:-0})); done
figure policy_ops "$ops"
figure policy_ops_per_s "$(fcalc "$ops / $elapsed")"
figure policy_policy_ops "$policy_ops"
figure policy_mapping_ops $((ops - policy_ops))
figure policy_refusals "$refusals"
figure policy_checks "$checks"
figure policy_new_flows_ok "$new_ok"
figure policy_new_flows_failed "$new_failed"
figure policy_fail_closed_drops_now "$fc"
figure policy_esp_packets "$esp"
figure policy_guard_drops "$(guard_drops)"
figure policy_plaintext "$plain"

[ "$plain" = 0 ] || fail "plaintext with a mapped address or the office host on the WAN: $(capture_show policy "not esp and (host $MAPPED or host $MAPPED2 or host $OFFICE_HOST)" | head -n 20)"
assert_ge 1 "$checks" "checks of the mapping"
assert_ge 20 "$esp" "ESP packets between the gateways"
for s in $sources; do
	[ "$s" = "$MAPPED" ] || [ "$s" = "$MAPPED2" ] || fail "the office saw source $s (only $MAPPED and $MAPPED2 are mapped): $sources"
done

log "after the churn: the policy as at the start, a mapping works"
if [ "$pol" != wide ]; then
	[ -z "$pol" ] || pol_del
	pol_add wide
fi
# Flushes removed the return policies' twins of howto_setup: make sure
# exactly one pair is there.
run_in home ip xfrm policy list dir in | grep -q "src $OFFICE_NET" || home_return_policies
xnat map "spid=$SPID" to "$MAPPED2" replace
wait_for 10 "the mapping to be active" mapping_state_is active
exchange lan udp after-policy-udp
exchange home tcp after-policy-tcp
assert_eq 1 "$(office_from "$MAPPED2" after-policy-udp)" "the new LAN flow from $MAPPED2"
xnat show
