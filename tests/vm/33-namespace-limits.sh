#!/usr/bin/env bash
# Per-namespace limits and memory accounting.  The module parameters
# max_mappings and max_hold_bytes bound what a namespace's owner (root in a
# user namespace included) can make the kernel keep, max_hold_bytes_total
# what all namespaces' hold queues keep together; a request over a limit
# is refused with the reason and changes nothing; each namespace has its
# own budget; an unprivileged user cannot raise the limits; what a request
# allocates is charged to the caller's memory cgroup.
# timeout: 180
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

require_root
require_cmd ip setpriv unshare
require_module
require_ctl

params=/sys/module/xfrm_nat/parameters
load_module
assert_eq 65536 "$(cat $params/max_mappings)" "default max_mappings"
assert_eq $((64 << 20)) "$(cat $params/max_hold_bytes)" "default max_hold_bytes"
ctl() { run_in "$1" "$XNAT_CTL" "${@:2}"; }
count() { ctl "$1" -j show | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))'; }

log "max_mappings=3: the fourth mapping of a namespace is refused, replace still works"
echo 3 >$params/max_mappings
netns_create a b
for spid in 1 9 17; do ctl a map "spid=$spid" to "10.9.0.$spid"; done
out=$(ctl a map spid=25 to 10.9.0.25 2>&1) && fail "a fourth mapping was accepted: $out"
assert_contains "$out" "namespace at its limit of 3 mappings (param max_mappings)" "refusal of the fourth mapping"
assert_eq 3 "$(count a)" "mappings of a after the refusal"
ctl a map spid=1 to 10.9.1.1 replace
assert_contains "$(ctl a show spid=1)" "10.9.1.1" "replace at the limit"
log "each namespace has its own budget"
for spid in 1 9 17; do ctl b map "spid=$spid" to "10.8.0.$spid"; done
assert_eq 3 "$(count b)" "mappings of b"

log "unprivileged: root of a user namespace is held to the same limit, and cannot raise it"
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups unshare -Urn sh -c "
	for s in 1 9 17 25; do '$XNAT_CTL' map spid=\$s to 10.7.0.\$s || exit 7; done" 2>&1) && rc=0 || rc=$?
assert_eq 7 "$rc" "exit status of four maps in an unprivileged user+net namespace ($out)"
assert_contains "$out" "namespace at its limit of 3 mappings" "refusal in the user namespace"
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups unshare -Ur sh -c "echo 100000 >$params/max_mappings" 2>&1) &&
	fail "user-namespace root changed max_mappings: $out"
assert_eq 3 "$(cat $params/max_mappings)" "max_mappings after the unprivileged write"
echo 65536 >$params/max_mappings

log "max_hold_bytes: hold queues reserve their bytes and slots (32 bytes each)"
echo 600000 >$params/max_hold_bytes
netns_create h
ctl h map spid=1 to 10.6.0.1 pending hold
ctl h map spid=9 to 10.6.0.9 pending hold
out=$(ctl h map spid=17 to 10.6.0.17 pending hold 2>&1) && fail "a third hold queue was accepted: $out"
# 3 x (262144 + 100 x 32)
assert_contains "$out" "hold queues would reserve 796032 bytes, over max_hold_bytes=600000" "refusal of the third hold queue"
ctl h map spid=17 to 10.6.0.17
assert_eq 3 "$(count h)" "mappings of h (two hold, one eagain)"
out=$(ctl h map spid=17 to 10.6.0.17 pending hold hold-bytes 60000 hold-packets 10 replace 2>&1) ||
	fail "a hold queue within the limit was refused: $out"
echo $((64 << 20)) >$params/max_hold_bytes

log "max_hold_bytes_total: the hold queues of all namespaces together"
assert_eq $((256 << 20)) "$(cat $params/max_hold_bytes_total)" "default max_hold_bytes_total"
# h reserves 2 x 265344 + 60320 now; a queue in another namespace that
# would take the total over is refused there, and fits once h lets go.
echo 800000 >$params/max_hold_bytes_total
netns_create h2
out=$(ctl h2 map spid=1 to 10.6.1.1 pending hold 2>&1) && fail "a hold queue over the total was accepted: $out"
assert_contains "$out" "hold queues would reserve 856352 bytes, over max_hold_bytes_total=800000" "refusal of a queue over the total"
assert_eq 0 "$(count h2)" "mappings of h2 after the refusal"
ctl h2 map spid=1 to 10.6.1.1
ctl h flush
# The old snapshot, and the queues with it, go after an RCU grace period.
wait_for 10 "h's queues given back" ctl h2 map spid=1 to 10.6.1.1 pending hold replace
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups unshare -Ur sh -c "echo 999999999 >$params/max_hold_bytes_total" 2>&1) &&
	fail "user-namespace root changed max_hold_bytes_total: $out"
echo $((256 << 20)) >$params/max_hold_bytes_total

log "memory cgroup: hold queues are charged to the caller"
cg=/sys/fs/cgroup
mountpoint -q $cg || mount -t cgroup2 none $cg
grep -qw memory $cg/cgroup.controllers || fail "no memory controller in $cg/cgroup.controllers: $(cat $cg/cgroup.controllers)"
echo +memory >$cg/cgroup.subtree_control
mkdir -p $cg/xnat
on_exit "rmdir $cg/xnat"
netns_create m
# charged NAME CMD...: what memory.current of the cgroup grew by while CMD,
# with SPID replaced by 9, 17, ... 81, ran in it ten times (after a warm-up
# run of xnatctl, so that its pages are charged already), in bytes.  Charges
# are batched per CPU (64 pages), hence ten queues of 240 KB.
charged() {
	local what=$1
	shift
	sh -c 'echo $$ >'"$cg"'/xnat/cgroup.procs; exec "$@"' sh ip netns exec m "$XNAT_CTL" show >/dev/null
	local before after
	before=$(cat $cg/xnat/memory.current)
	for i in $(seq 10); do
		sh -c 'echo $$ >'"$cg"'/xnat/cgroup.procs; exec "$@"' sh "${@//SPID/$((i * 8 + 1))}" >/dev/null ||
			fail "$what $i in the cgroup failed"
	done
	after=$(cat $cg/xnat/memory.current)
	echo $((after - before))
}
hold=$(charged "hold map" ip netns exec m "$XNAT_CTL" map spid=SPID to 10.5.0.SPID pending hold hold-packets 10000)
ctl m flush
plain=$(charged "eagain map" ip netns exec m "$XNAT_CTL" map spid=SPID to 10.5.0.SPID)
log "ten hold queues of 10000 slots charged $hold bytes; ten eagain mappings $plain"
# 10000 slots of 24 bytes each, ten times: 2.4 MB more than the same ten
# mappings without queues (which also see the noise of pages the processes
# touch, and of charge batching).
assert_ge 2000000 $((hold - plain)) "bytes charged for ten hold queues beyond ten eagain mappings"
