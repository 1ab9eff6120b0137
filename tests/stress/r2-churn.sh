#!/usr/bin/env bash
# Stress 2: mapping churn under IPsec traffic.  In the reference topology (the
# policy selects $MAPPED and $MAPPED2), with ping, UDP and TCP running from
# the LAN and the home box (long flows and a stream of new ones), the
# mapping is made, unmapped, replaced between the two addresses and pending
# modes, and flushed, as fast as xnatctl goes, for STRESS_SECONDS (at least
# 10 steps).  The mappings are what each step says; the office sees only
# the mapped addresses; a capture on the WAN shows no plaintext packet with
# a mapped or formerly mapped address or the office host (only ESP carries
# them).  Flows that no mapping translated are dropped by a firewall rule of
# the home box (guard_unmapped), which lets every NATed packet pass.
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
capture_start router r-home churn

log "traffic: pings, two long UDP flows, and new UDP/TCP flows in a loop, from the LAN and the home box"
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
# New UDP and TCP flows, one after another, from the LAN and the home box.
for ns in lan home; do
	run_in "$ns" python3 "$REPO/tests/stress/flows.py" "$OFFICE_HOST" "new-$ns" "$stop" \
		>"$XNAT_TMP/new-$ns.out" 2>&1 &
	eval "flows_$ns=$!"
	on_exit "kill $! 2>/dev/null"
done

# The churn: each step is valid for the state the last one left, and must
# succeed; every tenth step the mapping is checked against the expectation.
log "churn for $STRESS_SECONDS s"
cur=$MAPPED mode=eagain ops=0 checks=0
declare -A kinds=()
start=$EPOCHREALTIME end=$(stress_deadline)
while [ "$ops" -lt 10 ] || [ "$SECONDS" -lt "$end" ]; do
	r=$((RANDOM % 8))
	if [ -z "$cur" ]; then
		# Nothing mapped: map one of the addresses (the mode as it comes).
		cur=$MAPPED
		[ $((r % 2)) = 0 ] || cur=$MAPPED2
		mode=eagain
		xnat map "spid=$SPID" to "$cur"
		kind=map
	else
		case $r in
		0 | 1 | 2)
			if [ "$cur" = "$MAPPED" ]; then cur=$MAPPED2; else cur=$MAPPED; fi
			xnat map "spid=$SPID" to "$cur" pending "$mode" replace
			kind=replace-addr ;;
		3)
			case $((RANDOM % 3)) in 0) mode=eagain ;; 1) mode=drop ;; *) mode=hold ;; esac
			xnat map "spid=$SPID" to "$cur" pending "$mode" replace
			kind=replace-mode ;;
		4)
			out=$(xnat map "spid=$SPID" to "$cur" 2>&1) && fail "map without replace over an existing mapping succeeded: $out"
			assert_contains "$out" "spid $SPID is already mapped" "refusal of a second mapping of spid $SPID"
			kind=map-exists ;;
		5 | 6)
			xnat unmap "spid=$SPID"
			cur=
			kind=unmap ;;
		*)
			xnat flush
			cur=
			kind=flush ;;
		esac
	fi
	ops=$((ops + 1))
	kinds[$kind]=$((${kinds[$kind]:-0} + 1))
	if [ $((ops % 10)) = 0 ]; then
		want=
		[ -z "$cur" ] || want="$SPID $cur active $mode"
		assert_eq "$want" "$(map_desc home)" "the mapping after step $ops ($kind)"
		checks=$((checks + 1))
	fi
done
elapsed=$(fcalc "${EPOCHREALTIME} - $start")
touch "$stop"
[ -n "$cur" ] || xnat map "spid=$SPID" to "$MAPPED"
log "churn done: $ops steps; stopping the traffic"
wait "$flows_lan" || fail "the LAN's new flows failed: $(cat "$XNAT_TMP/new-lan.out")"
wait "$flows_home" || fail "the home box's new flows failed: $(cat "$XNAT_TMP/new-home.out")"
sed 's/^/# new flows from lan: /' "$XNAT_TMP/new-lan.out"
sed 's/^/# new flows from home: /' "$XNAT_TMP/new-home.out"
capture_stop churn
log "capture stopped: $(stat -c %s "$XNAT_TMP/churn.pcap") bytes"
for k in "${!kinds[@]}"; do log "steps $k: ${kinds[$k]}"; done

cnt() { awk -v k="$2" '$1 == "ok" { print (k == "ok" ? $2 : $4) }' "$1"; }
new_ok=$(($(cnt "$XNAT_TMP/new-lan.out" ok) + $(cnt "$XNAT_TMP/new-home.out" ok)))
new_failed=$(($(cnt "$XNAT_TMP/new-lan.out" failed) + $(cnt "$XNAT_TMP/new-home.out" failed)))
plain=$(capture_count churn "not esp and (host $MAPPED or host $MAPPED2 or host $OFFICE_HOST)")
esp=$(capture_count churn "esp and host $HOME_WAN and host $GW_WAN")
sources=$(office_sources | tr '\n' ' ')
log "capture and logs counted"
figure churn_ops "$ops"
figure churn_ops_per_s "$(fcalc "$ops / $elapsed")"
figure churn_checks "$checks"
figure churn_new_flows_ok "$new_ok"
figure churn_new_flows_failed "$new_failed"
figure churn_esp_packets "$esp"
figure churn_guard_drops "$(guard_drops)"
figure churn_plaintext "$plain"

[ "$plain" = 0 ] || fail "plaintext with a mapped address or the office host on the WAN: $(capture_show churn "not esp and (host $MAPPED or host $MAPPED2 or host $OFFICE_HOST)" | head -n 20)"
assert_ge 1 "$checks" "checks of the mapping"
assert_ge 1 "$new_ok" "new flows answered during the churn"
assert_ge 20 "$esp" "ESP packets between the gateways"
for s in $sources; do
	[ "$s" = "$MAPPED" ] || [ "$s" = "$MAPPED2" ] || fail "the office saw source $s (only $MAPPED and $MAPPED2 are mapped): $sources"
done
assert_contains "$sources" "$MAPPED " "sources seen by the office"
[ "${kinds[replace-addr]:-0}" -lt 3 ] || assert_contains "$sources" "$MAPPED2" "sources seen by the office after replaces to $MAPPED2"
assert_ge 10 "$(grep -c long-lan "$XNAT_TMP/office.log")" "datagrams of the long LAN flow at the office"

log "after the churn a mapping works as before"
xnat map "spid=$SPID" to "$MAPPED2" replace
exchange lan udp after-churn-udp
exchange home tcp after-churn-tcp
assert_eq 1 "$(office_from "$MAPPED2" after-churn-udp)" "the new LAN flow from $MAPPED2"
xnat show
