#!/usr/bin/env bash
# The stress campaign behind `make stress`: the sections tests/stress/r*.sh
# in one boot of a test kernel (scripts/vm-test.sh, which runs each with its
# timeout and fails it on a kernel report or kmemleak), then their figures
# and one closing line.
#
#   tests/stress/run.sh KERNEL [VARIANT]
#
# KERNEL is a kernel build tree or bzImage; VARIANT (base or debug) only
# names the results.  The module and xnatctl must be built (make stress
# does that first); they are copied aside, so that builds in the checkout
# during the run do not change what the VM loads.
#
# Environment: STRESS_SECONDS (default 60) how long each section stresses,
# setup and checks coming on top; STRESS_SECTIONS (e.g. "r1 r3") the
# sections whose names start so (default all); STRESS_RESULTS where logs go
# (default $XNAT_CACHE/results/stress-VARIANT).  Exits 1 if a section failed.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
kernel=${1:?usage: run.sh KERNEL [VARIANT]}
variant=${2:-base}
secs=${STRESS_SECONDS:-60}
[[ $secs =~ ^[1-9][0-9]*$ ]] || { echo "STRESS_SECONDS must be a positive integer, got '$secs'" >&2; exit 2; }
XNAT_CACHE=${XNAT_CACHE:-$HOME/.cache/xfrm-nat}
out=${STRESS_RESULTS:-$XNAT_CACHE/results/stress-$variant}
ko=$top/module/xfrm_nat.ko
ctl=$top/tools/xnatctl/target/release/xnatctl
[ -f "$ko" ] || { echo "no module at $ko: run make module" >&2; exit 2; }
[ -x "$ctl" ] || { echo "no xnatctl at $ctl: run make cli" >&2; exit 2; }

sections=()
for t in "$top"/tests/stress/r[0-9]*.sh; do
	name=$(basename "$t" .sh)
	if [ -n "${STRESS_SECTIONS:-}" ]; then
		keep=
		for s in $STRESS_SECTIONS; do [[ $name == "$s"* ]] && keep=1; done
		[ -n "$keep" ] || continue
	fi
	sections+=("$t")
done
[ ${#sections[@]} -gt 0 ] || { echo "no section matches STRESS_SECTIONS='${STRESS_SECTIONS:-}'" >&2; exit 2; }

rm -rf "$out"
mkdir -p "$out/bin"
cp "$ko" "$ctl" "$out/bin/"
# The guest gets XNAT_KO and XNAT_CTL from scripts/vm-run.sh, not arbitrary
# variables: tests/stress/stress.sh reads this file beside the module.
echo "STRESS_SECONDS=$secs" >"$out/bin/stress.env"

echo "[stress] ${#sections[@]} section(s), STRESS_SECONDS=$secs, kernel $kernel; logs in $out"
t0=$(date +%s)
# One boot: the sections' figures assume a guest with the host to itself.
XNAT_VM_JOBS=1 XNAT_KO=$out/bin/xfrm_nat.ko XNAT_CTL=$out/bin/xnatctl \
	"$top/scripts/vm-test.sh" "$kernel" "$out/vm" "${sections[@]}" 2>&1 </dev/null |
	tee "$out/vm-test.log" | grep --line-buffered -E '^\[vm(-run)?\]' | sed -u 's/^/# /'
rc=${PIPESTATUS[0]}
elapsed=$(($(date +%s) - t0))

tap=$out/vm/vm.tap
passed=$(grep -cE '^ok [0-9]+ ' "$tap" 2>/dev/null || true)
failed=$(grep -cE '^not ok [0-9]+ ' "$tap" 2>/dev/null || true)
passed=${passed:-0} failed=${failed:-0}
# A section the VM did not get to (it died or was killed) is a failure too.
missing=$((${#sections[@]} - passed - failed))
[ "$missing" -le 0 ] || failed=$((failed + missing))

# Kernel reports: sections failed because of the kernel log or kmemleak,
# and a panic that ended the VM.
kreport() {
	awk -v mode="$1" '
		/^(not )?ok [0-9]+ / { name = $0; k = 0 }
		/^# reason: (kernel log has errors|kmemleak)/ {
			if (!k) n++
			k = 1
			if (mode == "show") print "# kernel report: " name ": " substr($0, 11)
		}
		END { if (mode == "count") print n + 0 }' "$tap" 2>/dev/null
}
reports=$(kreport count)
reports=${reports:-0}
if grep -qE 'Kernel panic|BUG:|Oops' "$out/vm/console.log" 2>/dev/null && [ "$rc" != 0 ] &&
	! grep -qE '^# reason: kernel log has errors' "$tap"; then
	echo "# kernel report on the console: $(grep -m1 -E 'Kernel panic|BUG:|Oops' "$out/vm/console.log")"
	reports=$((reports + 1))
fi

# The figures, section by section.
declare -A fig=()
for log in "$out"/vm/logs/*.log; do
	[ -e "$log" ] || continue
	name=$(basename "$log" .log)
	while read -r _ _ key value; do
		fig[$key]=$value
		printf '# %-16s %-36s %s\n' "$name" "$key" "$value"
	done < <(grep '^# figure: ' "$log")
done
if [ "$failed" != 0 ]; then
	grep -E '^(not ok|# reason|# no result)' "$tap" 2>/dev/null | sed 's/^/# /'
fi
kreport show

f() { echo "${fig[$1]:--}"; }
sum() {
	local s=0 k any=
	for k in "$@"; do [ -n "${fig[$k]:-}" ] && s=$((s + fig[$k])) && any=1; done
	[ -n "$any" ] && echo "$s" || echo -
}
plain=$(sum churn_plaintext unload_plaintext policy_plaintext)
echo "stress ($variant kernel, ${secs} s a section, ${elapsed} s): $passed sections passed, $failed failed, $reports kernel reports;" \
	"$(sum fuzz_root_sent fuzz_nobody_sent) fuzz messages, $(f churn_ops) mapping churn ops ($(f churn_ops_per_s)/s)," \
	"$(f unload_cycles) load/unload cycles, $(f netns_gone)/$(f netns_deleted) namespaces gone (max $(f netns_held_gone_s_max) s with held packets, $(f netns_gone_s_max) s without)," \
	"$(f policy_ops) policy churn ops, $(f limits_ops) permission/limit ops, $plain plaintext packets"
[ "$failed" = 0 ] && [ "$rc" = 0 ]
