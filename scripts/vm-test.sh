#!/usr/bin/env bash
# Run the VM tests (tests/vm/*.sh) in boots of the test kernel.
#
#   scripts/vm-test.sh KERNEL OUTDIR [TEST...]
#
# KERNEL is a kernel build tree or bzImage; OUTDIR receives vm.tap, the test
# logs, the guest's kernel log and the console log.  Prints the TAP and exits
# non-zero if a test failed, or if a VM died before reporting every test
# (the missing ones are then reported as failures).
#
# XNAT_VM_JOBS guests (default 2; 1 on a debug kernel, see below) boot at
# once and take tests from one shared queue, in list order, so that the long
# tests spread over both.  One guest of the base kernel under TCG keeps about
# one host core busy: its tests are mostly one shell pipeline at a time.  So
# each of these guests has one vCPU (see run_queued).
# Each guest has its own namespaces, module and kernel log, so tests stay as
# isolated as in one boot; vm.tap lists every test in list order whichever
# guest ran it, and OUTDIR/guest-K/ keeps each guest's logs.
# XNAT_VM_JOBS=1 runs everything in one boot, in OUTDIR itself.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
kernel=${1:?usage: vm-test.sh KERNEL OUTDIR [TEST...]}
out=${2:?usage: vm-test.sh KERNEL OUTDIR [TEST...]}
shift 2
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"

# A scenario file for both families is two tests (tests/lib.sh, vm_tests).
if [ $# = 0 ]; then
	paths=("$top"/tests/vm/*.sh)
else
	paths=()
	for t in "$@"; do
		case $t in */*) ;; *) t=$top/tests/vm/${t%.sh}.sh ;; esac
		paths+=("$t")
	done
fi
mapfile -t tests < <(vm_tests "${paths[@]}")
# A test runs once: the queue knows tests by name.
declare -A seen=()
for t in "${tests[@]}"; do
	n=$(basename "$t" .sh)
	[ -z "${seen[$n]:-}" ] || { echo "vm-test.sh: $n is listed twice" >&2; exit 2; }
	seen[$n]=1
done

# A debug kernel (KASAN, lockdep, kmemleak) under TCG keeps both host cores
# busy by itself and runs the tests 3-10 times slower: one guest at a time,
# and every limit of a test (its timeout, its waits in lib.sh) 4 times as
# long.  Limits bound hangs; no test asserts speed with them.
default_jobs=2 default_scale=1
if [ -d "$kernel" ] && grep -q '^CONFIG_KASAN=y' "$kernel/.config" 2>/dev/null; then
	default_jobs=1 default_scale=4
fi
export XNAT_TIME_SCALE=${XNAT_TIME_SCALE:-$default_scale}

# The VM's time limit: every test's own limit, plus boot and per-test
# overhead (cleanup, kmemleak scans under a debug kernel).
limit=${XNAT_VM_TIMEOUT:-}
if [ -z "$limit" ]; then
	limit=180
	for t in "${tests[@]}"; do
		vm_test_source "$t"
		[ -r "$VM_TEST_FILE" ] && limit=$((limit + ($(test_timeout "$t" 120) + 30) * XNAT_TIME_SCALE))
	done
fi

# run_queued N: N guests share the test list through OUTDIR/queue; their
# TAP is merged into OUTDIR/vm.tap.  Returns non-zero if a guest did.
run_queued() {
	local n=$1 k pids=() rcs=() g i t name block who worst=0
	mkdir -p "$out/queue"
	# One vCPU each: two 2-vCPU guests on 2 cores ran each test about 2.5
	# times slower than one guest alone (a vCPU thread preempted while its
	# guest waits on it), a net loss; two 1-vCPU guests run each test about
	# as fast as one guest alone.  The single-guest runs (XNAT_VM_JOBS=1,
	# check-debug, stress) keep two vCPUs for cross-CPU races.
	export XNAT_VM_CPUS=${XNAT_VM_CPUS:-1}
	for ((k = 1; k <= n; k++)); do
		g=$out/guest-$k
		mkdir -p "$g"
		# The progress lines say which guest speaks.
		{
			local grc=0
			"$top/scripts/vm-run.sh" -k "$kernel" -o "$g" -w "$out/queue" -t "$limit" -- \
				bash tests/run-in-guest.sh "$g" --queue "$out/queue" "${tests[@]}" 2>&1 || grc=$?
			echo "$grc" >"$g/exit-status"
		} | sed -u "s/^\[vm\(-run\)\?\] /&(guest $k) /" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || true; done
	for ((k = 1; k <= n; k++)); do
		rcs[k]=$(cat "$out/guest-$k/exit-status" 2>/dev/null || echo 1)
		[ "${rcs[k]}" = 0 ] || worst=${rcs[k]}
	done

	mkdir -p "$out/logs"
	{
		echo "TAP version 13"
		echo "1..${#tests[@]}"
		i=0
		for t in "${tests[@]}"; do
			i=$((i + 1))
			name=$(basename "$t" .sh)
			block=
			for ((k = 1; k <= n; k++)); do
				block=$(tap_block "$out/guest-$k/vm.tap" "$name" "$i")
				[ -z "$block" ] || break
			done
			if [ -n "$block" ]; then
				printf '%s\n' "$block"
				ln -sf "../guest-$k/logs/$name.log" "$out/logs/$name.log"
				continue
			fi
			echo "not ok $i - $name"
			who=$(cat "$out/queue/$name/claimed-by" 2>/dev/null) || who=
			if [ -z "$who" ]; then
				echo "# no result: no guest took the test (every guest had ended)"
				continue
			fi
			k=${who##*guest-}
			if [ "${rcs[k]}" = 124 ]; then
				echo "# no result: guest $k was killed after $limit s while running it"
			else
				echo "# no result: guest $k exited with status ${rcs[k]} while running it"
			fi
			echo "# ---- last lines of guest $k's console ($who/console.log)"
			tail -n 40 "$who/console.log" 2>/dev/null | sed 's/^/#   /'
		done
	} >"$out/vm.tap"
	return "$worst"
}

# tap_block TAP NAME I: NAME's result line in TAP, renumbered I, with the
# indented subtest (its phases) that precedes it and the comment lines that
# follow it.
tap_block() {
	awk -v name="$2" -v i="$3" '
		/^    / { sub_ = sub_ $0 "\n"; on = 0; next }
		/^(not )?ok [0-9]+ - / {
			rest = $0
			sub(/^(not )?ok [0-9]+ - /, "", rest)
			sub(/ # SKIP.*$/, "", rest)
			on = (rest == name)
			if (on) {
				not = ($0 ~ /^not /) ? "not " : ""
				line = $0
				sub(/^(not )?ok [0-9]+ /, "", line)
				printf "%s", sub_
				print not "ok " i " " line
			}
			sub_ = ""
			next
		}
		/^#/ && on { print; next }
		{ on = 0; sub_ = "" }' "$1" 2>/dev/null
}

jobs=${XNAT_VM_JOBS:-$default_jobs}
[ "$jobs" -le "${#tests[@]}" ] || jobs=${#tests[@]}
[ "$jobs" -ge 1 ] || jobs=1

rm -rf "$out"
mkdir -p "$out"
rc=0
if [ "$jobs" = 1 ]; then
	"$top/scripts/vm-run.sh" -k "$kernel" -o "$out" -t "$limit" -- \
		bash tests/run-in-guest.sh "$out" "${tests[@]}" || rc=$?
else
	run_queued "$jobs" || rc=$?
fi

tap=$out/vm.tap
[ -f "$tap" ] || : >"$tap"
plan=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$tap" | head -n1)
plan=${plan:-${#tests[@]}}
done_=$(grep -cE '^(not )?ok [0-9]+' "$tap" || true)
if [ "$done_" -lt "$plan" ]; then
	if [ "$rc" = 124 ]; then why="the VM was killed after $limit s"; else why="the VM exited with status $rc"; fi
	for ((i = done_ + 1; i <= plan; i++)); do
		name=$(basename "${tests[i-1]:-test-$i}" .sh)
		{
			echo "not ok $i - $name"
			echo "# no result: $why before the test reported"
			if [ "$i" = $((done_ + 1)) ]; then
				echo "# ---- last lines of the VM console ($out/console.log)"
				tail -n 40 "$out/console.log" 2>/dev/null | sed 's/^/#   /'
			fi
		} >>"$tap"
	done
	[ "$rc" != 0 ] || rc=1
fi

cat "$tap"
exit "$rc"
