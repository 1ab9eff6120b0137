#!/usr/bin/env bash
# Stress 6: permission and per-namespace limit cases in a loop, 300
# operations or STRESS_SECONDS, whichever comes first (at least one round).
# Each round: every write as nobody is refused with "permission denied" and
# changes nothing, while reading works; with max_mappings at a random 1-5 a
# namespace gets exactly that many mappings, the next is refused with the
# limit in words, replace at the limit works, and a mapping freed makes
# room again; root of an unprivileged user namespace is held to the same
# limit and cannot change the parameters; with max_hold_bytes set so that a
# random number (0-3) of hold queues of random bounds fit, exactly that
# many are accepted and the next is refused with the figures, an eagain
# mapping still fits.  (See tests/vm/15-permissions-netns.sh and
# tests/vm/33-namespace-limits.sh for the single cases.)
# timeout: 900
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../howto.sh"
. "$(dirname "$0")/stress.sh"

require_root
require_cmd ip setpriv unshare python3
require_module
require_ctl
stress_budget 30

params=/sys/module/xfrm_nat/parameters
load_module
[ -w "$params/max_mappings" ] || fail "no writable $params/max_mappings"
[ -w "$params/max_hold_bytes" ] || fail "no writable $params/max_hold_bytes"
mm0=$(cat $params/max_mappings) mh0=$(cat $params/max_hold_bytes)
on_exit "echo $mm0 >$params/max_mappings; echo $mh0 >$params/max_hold_bytes"
netns_create a b h
ctl() { run_in "$1" "$XNAT_CTL" "${@:2}"; }
nobody() { run_in "$1" setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all "$XNAT_CTL" "${@:2}"; }
count() { ctl "$1" -j show | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))'; }

ctl a map spid=305 to 10.20.30.2
ctl a map spid=313 to 2001:db8::2 pending hold hold-packets 9
before=$(ctl a -j show)

ops=0 eperm=0 limit_refused=0 accepted=0 param_refused=0 reads=0 rounds=0
declare -A by_limit=()
end=$(stress_deadline)
while [ "$rounds" = 0 ] || { [ "$ops" -lt 300 ] && [ "$SECONDS" -lt "$end" ]; }; do
	rounds=$((rounds + 1))

	# Writes as nobody: refused, nothing changes; reading works.
	for cmd in "map spid=$((RANDOM * 8 + 1)) to 10.9.$((RANDOM % 256)).1" "map spid=305 to 10.9.9.9 replace" \
		"map spid=305 to 10.20.30.2 pending hold replace" "unmap spid=305" "unmap spid=313" "flush"; do
		# shellcheck disable=SC2086
		out=$(nobody a $cmd 2>&1) && fail "'xnatctl $cmd' as nobody succeeded: $out"
		assert_contains "$out" "permission denied" "'xnatctl $cmd' as nobody"
		eperm=$((eperm + 1)) ops=$((ops + 1))
	done
	assert_eq "$before" "$(ctl a -j show)" "mappings of 'a' after the refused writes (round $rounds)"
	assert_contains "$(nobody a show)" "2001:db8::2" "show as nobody"
	reads=$((reads + 2)) ops=$((ops + 2))

	# max_mappings: exactly k fit.
	k=$((RANDOM % 5 + 1))
	echo "$k" >$params/max_mappings
	ctl b flush
	for ((i = 1; i <= k; i++)); do
		ctl b map "spid=$((i * 8 + 1))" to "10.8.$rounds.$i"
		accepted=$((accepted + 1))
	done
	out=$(ctl b map "spid=$((k * 8 + 9))" to 10.8.0.99 2>&1) && fail "mapping $((k + 1)) accepted at max_mappings=$k: $out"
	assert_contains "$out" "namespace at its limit of $k mappings (param max_mappings)" "refusal of mapping $((k + 1))"
	limit_refused=$((limit_refused + 1))
	by_limit[$k]=$((${by_limit[$k]:-0} + 1))
	ctl b map spid=9 to 10.8.1.1 pending drop replace
	assert_eq "$k" "$(count b)" "mappings of b at the limit $k"
	assert_contains "$(ctl b show spid=9)" "10.8.1.1" "replace at the limit"
	ctl b unmap spid=9
	ctl b map spid=9 to 10.8.2.2
	assert_eq "$k" "$(count b)" "mappings of b after a freed place was taken again"
	accepted=$((accepted + 3)) ops=$((ops + k + 6))

	# Root of a user namespace (made by nobody): the same limit; it cannot
	# raise it.
	out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups unshare -Urn sh -c "
		i=0; while [ \$i -le $k ]; do i=\$((i + 1)); '$XNAT_CTL' map spid=\$((i * 8 + 1)) to 10.7.0.\$i || exit \$i; done; exit 100" 2>&1) && rc=0 || rc=$?
	assert_eq $((k + 1)) "$rc" "the user namespace's refused mapping ($out)"
	assert_contains "$out" "namespace at its limit of $k mappings" "refusal in the user namespace"
	out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups unshare -Ur sh -c "echo 65536 >$params/max_mappings" 2>&1) &&
		fail "user-namespace root changed max_mappings: $out"
	out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups sh -c "echo 1 >$params/max_hold_bytes" 2>&1) &&
		fail "nobody changed max_hold_bytes: $out"
	assert_eq "$k" "$(cat $params/max_mappings)" "max_mappings after unprivileged writes"
	accepted=$((accepted + k)) limit_refused=$((limit_refused + 1)) param_refused=$((param_refused + 2))
	ops=$((ops + k + 3))
	echo 65536 >$params/max_mappings

	# max_hold_bytes: queues of random bounds; exactly n of them fit.
	hp=$((RANDOM % 200 + 1)) hb=$((RANDOM * 8 + 10000))
	per=$((hb + 32 * hp))
	n=$((RANDOM % 4))
	lim=$((per * n + RANDOM % per))
	echo "$lim" >$params/max_hold_bytes
	ctl h flush
	for ((i = 1; i <= n; i++)); do
		ctl h map "spid=$((i * 8 + 1))" to "10.6.0.$i" pending hold hold-packets "$hp" hold-bytes "$hb"
	done
	out=$(ctl h map "spid=$((n * 8 + 9))" to 10.6.0.99 pending hold hold-packets "$hp" hold-bytes "$hb" 2>&1) &&
		fail "hold queue $((n + 1)) accepted (each reserves $per bytes, max_hold_bytes=$lim): $out"
	assert_contains "$out" "hold queues would reserve $((per * (n + 1))) bytes, over max_hold_bytes=$lim" "refusal of hold queue $((n + 1))"
	ctl h map "spid=$((n * 8 + 9))" to 10.6.0.99
	assert_eq $((n + 1)) "$(count h)" "mappings of h ($n hold, one eagain)"
	accepted=$((accepted + n + 1)) limit_refused=$((limit_refused + 1)) ops=$((ops + n + 4))
	echo "$mh0" >$params/max_hold_bytes
done

log "limits seen per max_mappings value: $(for k in "${!by_limit[@]}"; do printf '%s:%s ' "$k" "${by_limit[$k]}"; done)"
figure limits_ops "$ops"
figure limits_rounds "$rounds"
figure limits_eperm_refusals "$eperm"
figure limits_limit_refusals "$limit_refused"
figure limits_param_write_refusals "$param_refused"
figure limits_accepted_writes "$accepted"
figure limits_reads "$reads"
assert_eq "$before" "$(ctl a -j show)" "mappings of 'a' at the end"
