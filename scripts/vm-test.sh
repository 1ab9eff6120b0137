#!/usr/bin/env bash
# Run the VM tests (tests/vm/*.sh) in one boot of the test kernel.
#
#   scripts/vm-test.sh KERNEL OUTDIR [TEST...]
#
# KERNEL is a kernel build tree or bzImage; OUTDIR receives vm.tap, the test
# logs, the guest's kernel log and the console log.  Prints the TAP and exits
# non-zero if a test failed, or if the VM died before reporting every test
# (the missing ones are then reported as failures).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
kernel=${1:?usage: vm-test.sh KERNEL OUTDIR [TEST...]}
out=${2:?usage: vm-test.sh KERNEL OUTDIR [TEST...]}
shift 2
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"

if [ $# = 0 ]; then
	tests=("$top"/tests/vm/*.sh)
else
	tests=()
	for t in "$@"; do
		case $t in */*) ;; *) t=$top/tests/vm/${t%.sh}.sh ;; esac
		tests+=("$t")
	done
fi

# The VM's time limit: every test's own limit, plus boot and per-test
# overhead (cleanup, kmemleak scans under a debug kernel).
limit=${XNAT_VM_TIMEOUT:-}
if [ -z "$limit" ]; then
	limit=180
	for t in "${tests[@]}"; do
		[ -r "$t" ] && limit=$((limit + $(test_timeout "$t" 120) + 30))
	done
fi

rm -rf "$out"
mkdir -p "$out"
rc=0
"$top/scripts/vm-run.sh" -k "$kernel" -o "$out" -t "$limit" -- \
	bash tests/run-in-guest.sh "$out" "$@" || rc=$?

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
