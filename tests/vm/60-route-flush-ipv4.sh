#!/usr/bin/env bash
# Route churn under new flows: while the home box's routes change all the
# time (route cache flushed, the default route changed in place, a host
# route to the office host and another route added and removed), flows
# from the home box and its LAN keep starting.  Each new flow's SPD lookup
# takes and releases routes (the packet's, the bundle's) while they are
# being invalidated: every exchange must get its reply or fail with a
# clean errno, nothing may leave outside ESP, and the kernel must log no
# warning (the runner fails the test on WARN, BUG, KASAN or refcount
# reports).
# timeout: 150
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../field.sh"

field_require

howto_setup 4
load_module
xnat map "spid=$SPID" to "$MAPPED"
exchange home udp warmup

churn() {
	while :; do
		run_in home ip route flush cache
		run_in home ip -4 route change default via "$ROUTER_HOME" dev wan0
		run_in home ip route add "$OFFICE_HOST/32" via "$ROUTER_HOME" dev wan0
		run_in home ip route add 10.99.0.0/16 dev wan0
		run_in home ip route flush cache
		run_in home ip route del "$OFFICE_HOST/32"
		run_in home ip route del 10.99.0.0/16
	done >/dev/null 2>&1
}

# flows NS N: N new flows from NS, UDP and TCP in turn, one output line each.
flows() {
	local i proto port
	for ((i = 1; i <= $2; i++)); do
		proto=udp port=5001
		((i % 2)) || proto=tcp port=5002
		run_in "$1" $PEER "$proto-send" "$OFFICE_HOST" "$port" "churn-$1-$i" --timeout 3 2>&1 | head -n1 || true
	done
}

capture_start router r-home wan
churn &
churner=$!
on_exit "kill $churner 2>/dev/null"
flows home 12 >"$XNAT_TMP/home.out" &
home=$!
flows lan 12 >"$XNAT_TMP/lan.out"
wait "$home"
kill "$churner" 2>/dev/null || true
wait "$churner" 2>/dev/null || true
run_in home ip route show
capture_stop wan

cat "$XNAT_TMP/home.out" "$XNAT_TMP/lan.out" | sort | uniq -c | sed 's/^/# /'
bad=$(grep -Ev '^(ok churn-|errno E)' "$XNAT_TMP/home.out" "$XNAT_TMP/lan.out" || true)
[ -z "$bad" ] || fail "exchanges without a reply or a clean error: $bad"
assert_ge 20 "$(cat "$XNAT_TMP/home.out" "$XNAT_TMP/lan.out" | grep -c '^ok churn-')" "exchanges answered (of 24)"
assert_eq "$MAPPED" "$(office_sources)" "sources seen by the office"
assert_eq 0 "$(capture_count wan "not esp and not arp")" "packets outside ESP on the WAN"
exchange home udp after-churn
exchange lan tcp after-churn-tcp
xnat show
assert_eq 0 "$(mapping_field "$SPID" fail_closed_drops)" "fail-closed drops"
