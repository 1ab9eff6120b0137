#!/usr/bin/env bash
# Run the VM tests inside the test kernel (started by scripts/vm-run.sh).
#
#   tests/run-in-guest.sh OUTDIR [--queue DIR] [TEST...]
#
# TESTs are files or names under tests/vm/ (default: tests/vm/*.sh, sorted);
# a scenario file for both address families is two tests, NAME-ipv4 and
# NAME-ipv6 (tests/lib.sh, vm_tests), and NAME alone stands for both.
# With --queue, several guests share the list: a guest runs a test only if it
# is the first to create DIR/NAME (mkdir is atomic on the host behind 9p), and
# writes its plan line last, once it knows how many it ran.
# Each test runs with a timeout (120 s, or its "# timeout: N" line), then the
# runner deletes leftover namespaces and unloads xfrm_nat, and checks the
# kernel log lines the test produced (and kmemleak, where the kernel has it).
# Writes OUTDIR/vm.tap (TAP), OUTDIR/logs/NAME.log, OUTDIR/dmesg.log.
# Exits 0 if every test passed or was skipped, 1 otherwise.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: run-in-guest.sh OUTDIR [--queue DIR] [TEST...]}
shift
queue=
if [ "${1:-}" = --queue ]; then
	queue=${2:?--queue needs a directory}
	shift 2
fi
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"

# Kernel log lines that fail a test whatever its exit status.
bad_kernel_re='WARNING:|BUG:|kernel BUG|Oops|KASAN|UBSAN|possible recursive locking|circular locking|suspicious RCU usage|inconsistent lock state|kmemleak|Call Trace|general protection fault|Kernel panic|blocked for more than|rcu_[a-z]+ detected stall|refcount_t:|list_(add|del) corruption'
kmemleak=/sys/kernel/debug/kmemleak

progress() { printf '[vm] %s\n' "$*"; }

paths=()
if [ $# = 0 ]; then
	for t in "$top"/tests/vm/*.sh; do [ -e "$t" ] && paths+=("$t"); done
else
	for t in "$@"; do
		case $t in */*) ;; *) t=$top/tests/vm/${t%.sh}.sh ;; esac
		paths+=("$t")
	done
fi
mapfile -t tests < <(vm_tests "${paths[@]}")

mkdir -p "$out/logs"
tap=$out/vm.tap
: >"$tap"
emit() { printf '%s\n' "$*" >>"$tap"; }

mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug 2>/dev/null

# The kernel log, followed for the whole run (dmesg retries when the ring
# buffer overruns its reader); each test's lines sit between two markers.
dmesg -w >"$out/dmesg.log" 2>&1 &
dmesg_pid=$!
trap 'kill $dmesg_pid 2>/dev/null' EXIT

# mark TEXT: write a marker to the kernel log and wait until the follower
# has it, so that everything logged before it is in dmesg.log.  Prints it.
mark() {
	local m="xnat-runner: $*" i
	echo "$m" >/dev/kmsg
	for ((i = 0; i < 100; i++)); do
		grep -qF -- "$m" "$out/dmesg.log" && { echo "$m"; return 0; }
		sleep 0.1
	done
	echo "$m"
	return 1
}

# Forget what kmemleak suspects from boot: only new leaks count.
if [ -w "$kmemleak" ]; then
	echo scan >"$kmemleak" 2>/dev/null
	echo clear >"$kmemleak" 2>/dev/null
fi

# Back to the state a test may expect: no namespaces of ours, no module,
# nothing left in the initial namespace's xfrm and nftables tables.
reset_state() {
	local i l problems=
	ip -all netns delete 2>/dev/null
	for l in $(ip -o link show type veth 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'); do
		ip link del "$l" 2>/dev/null
	done
	ip xfrm policy flush 2>/dev/null
	ip xfrm state flush 2>/dev/null
	nft flush ruleset 2>/dev/null
	# Namespaces die asynchronously and may hold the module for a moment.
	for ((i = 0; i < 50; i++)); do
		grep -q '^xfrm_nat ' /proc/modules || break
		rmmod xfrm_nat 2>/dev/null && break
		sleep 0.2
	done
	if grep -q '^xfrm_nat ' /proc/modules; then
		problems+="xfrm_nat could not be unloaded after the test: $(rmmod xfrm_nat 2>&1)"$'\n'
	fi
	printf '%s' "$problems"
}

# The install tests: the module of a `make install DESTDIR=` tree goes into
# the guest's module tree once, before any test.
if [ -n "${XNAT_INSTALL_ROOT:-}" ]; then
	out_install=$(install_staged_module 2>&1) || {
		emit "TAP version 13"
		emit "1..${#tests[@]}"
		i=0
		for t in "${tests[@]}"; do i=$((i + 1)); emit "not ok $i - $(basename "$t" .sh)"; done
		emit "# installing the module from $XNAT_INSTALL_ROOT failed: $out_install"
		exit 1
	}
	progress "installed xfrm_nat from $XNAT_INSTALL_ROOT: $(modinfo -n xfrm_nat)"
fi

n=0 failed=0
emit "TAP version 13"
[ -n "$queue" ] || emit "1..${#tests[@]}"
progress "running ${#tests[@]} test(s) on $(uname -r)${queue:+, shared with other guests}"

for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	if [ -n "$queue" ]; then
		mkdir "$queue/$name" 2>/dev/null || continue
		# Who took it: a test this guest never reports died with this guest.
		echo "$out" >"$queue/$name/claimed-by"
	fi
	n=$((n + 1))
	log=$out/logs/$name.log
	problems=

	vm_test_source "$t"
	if ! [ -r "$VM_TEST_FILE" ]; then
		emit "not ok $n - $name"
		emit "# no such test: $t"
		failed=$((failed + 1))
		continue
	fi

	limit=$(($(test_timeout "$t" 120) * ${XNAT_TIME_SCALE:-1}))
	begin=$(mark "begin $n $name")
	start=$(date +%s)
	# timeout puts the test in a process group of its own; whatever the
	# test leaves running in it is killed afterwards.
	subtap=$out/logs/$name.phases
	: >"$subtap"
	(cd "$top" && XNAT_FAMILY=$VM_TEST_FAMILY XNAT_SUBTAP=$subtap exec timeout -k 10 "$limit" bash "$VM_TEST_FILE") \
		>"$log" 2>&1 </dev/null &
	tpid=$!
	wait "$tpid"
	rc=$?
	kill -KILL -- "-$tpid" 2>/dev/null
	secs=$(($(date +%s) - start))
	[ "$rc" = 124 ] || [ "$rc" = 137 ] && problems+="timed out after ${limit} s (set '# timeout: N' in the test to change)"$'\n'

	r=$(reset_state)
	[ -z "$r" ] || problems+="$r"$'\n'

	leaks=
	if [ -w "$kmemleak" ]; then
		sleep "${XNAT_KMEMLEAK_AGE:-6}" # kmemleak ignores objects younger than 5 s
		echo scan >"$kmemleak"
		leaks=$(cat "$kmemleak")
		echo clear >"$kmemleak"
		[ -z "$leaks" ] || problems+="kmemleak reports unreferenced objects"$'\n'
	fi

	end=$(mark "end $n $name") || problems+="kernel log follower did not see the end marker"$'\n'
	klog=$(awk -v b="$begin" -v e="$end" '
		index($0, e) { exit }
		on { print }
		index($0, b) { on = 1 }' "$out/dmesg.log")
	bad=$(grep -E -- "$bad_kernel_re" <<<"$klog")
	[ -z "$bad" ] || problems+="kernel log has errors: $(head -n1 <<<"$bad")"$'\n'

	# The phases' lines, as a TAP subtest just before the test's own line.
	if [ -s "$subtap" ]; then
		emit "    # Subtest: $name"
		sed 's/^/    /' "$subtap" >>"$tap"
		emit "    1..$(wc -l <"$subtap")"
	fi
	if [ -z "$problems" ] && [ "$rc" = 0 ]; then
		emit "ok $n - $name"
		progress "$name: ok (${secs} s)"
	elif [ -z "$problems" ] && [ "$rc" = "$KSFT_SKIP" ]; then
		reason=$(sed -n 's/^SKIP: //p' "$log" | tail -n1)
		emit "ok $n - $name # SKIP ${reason:-no reason given}"
		progress "$name: skipped (${secs} s): ${reason:-no reason given}"
	else
		failed=$((failed + 1))
		[ "$rc" = 0 ] || [ "$rc" = "$KSFT_SKIP" ] || problems="exit status $rc"$'\n'"$problems"
		emit "not ok $n - $name"
		progress "$name: FAILED (${secs} s)"
		{
			while IFS= read -r l; do [ -n "$l" ] && echo "# reason: $l"; done <<<"$problems"
			echo "# ---- test output ($log)"
			sed 's/^/#   /' "$log"
			echo "# ---- kernel log during the test"
			if [ -n "$klog" ]; then sed 's/^/#   /' <<<"$klog"; else echo "#   (nothing)"; fi
			if [ -n "$leaks" ]; then
				echo "# ---- kmemleak"
				sed 's/^/#   /' <<<"$leaks"
			fi
		} >>"$tap"
	fi
	emit "# $name: ${secs} s"
done

[ -z "$queue" ] || emit "1..$n"
[ "$failed" = 0 ]
