#!/usr/bin/env bash
# `make bench-vm` (and the second half of `make bench`): xfrm-nat against
# iptables and nftables in one boot of a test kernel, then the table and
# the plots.  A benchmark: figures and ratios, no assertion on them.
#
#   tests/bench/run.sh KERNEL
#
# KERNEL is a kernel build tree or bzImage (the Makefile passes the base
# test kernel).  The module and xnatctl must be built (make bench-vm does
# that first); they are copied aside, so that builds in the checkout during
# the run do not change what the VM loads.
#
# Environment: BENCH_ROUNDS (default 5), BENCH_SECONDS (default 2) per
# traffic figure, BENCH_NS (default "1 100 1000 10000"), BENCH_RESULTS
# (default $XNAT_CACHE/results/bench), BENCH_PLOTS a second directory for
# the SVG plots (e.g. Documentation/perf), BENCH_XFRM_MONITOR=1 to keep an
# `ip xfrm monitor` running in each home box (it makes the kernel send an
# SA event every few packets), BENCH_PART (all, flows or children: see
# bench.sh), BENCH_CHILDREN (default 10000) and BENCH_CHILDREN_ROUNDS
# (default 1) for "10,000 children up at once" (children.sh).
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
kernel=${1:?usage: run.sh KERNEL}
XNAT_CACHE=${XNAT_CACHE:-$HOME/.cache/xfrm-nat}
out=${BENCH_RESULTS:-$XNAT_CACHE/results/bench}
ko=$top/module/xfrm_nat.ko
ctl=$top/tools/xnatctl/target/release/xnatctl
[ -f "$ko" ] || { echo "no module at $ko: run make module" >&2; exit 2; }
[ -x "$ctl" ] || { echo "no xnatctl at $ctl: run make cli" >&2; exit 2; }
for v in BENCH_ROUNDS BENCH_SECONDS BENCH_CHILDREN BENCH_CHILDREN_ROUNDS; do
	[[ ${!v:-1} =~ ^[1-9][0-9]*$ ]] || { echo "$v must be a positive integer, got '${!v}'" >&2; exit 2; }
done
part=${BENCH_PART:-all}
case $part in all | flows | children) ;; *) echo "BENCH_PART must be all, flows or children, got '$part'" >&2; exit 2 ;; esac

rm -rf "$out"
mkdir -p "$out/bin"
cp "$ko" "$ctl" "$out/bin/"
cc -O2 -Wall -o "$out/bin/flowgen" "$top/tests/bench/flowgen.c" || { echo "cannot build flowgen" >&2; exit 2; }
# mapchurn speaks the family's netlink with the numbers of the generated
# uapi that the module was built from; the mapping name exists where that
# uapi has its attribute.
uapi_defines() {
	awk '/^pub mod / { mod = $3 } /^}/ { mod = "" }
		$1 == "pub" && $2 == "const" {
			name = $3; sub(/:$/, "", name); value = $NF; sub(/;$/, "", value)
			if (mod == "cmd" && (name == "MAP_NEW" || name == "MAP_DEL")) printf "-DXNAT_CMD_%s=%s\n", name, value
			if (mod == "map_attr" && (name == "REQID" || name == "ADDR" || name == "NAME")) printf "-DXNAT_ATTR_%s=%s\n", name, value
		}' "$top/module/logic/src/uapi.rs"
}
mapfile -t defines < <(uapi_defines)
cc -O2 -Wall "${defines[@]}" -o "$out/bin/mapchurn" "$top/tests/bench/mapchurn.c" || { echo "cannot build mapchurn" >&2; exit 2; }
children_named=0
[[ " ${defines[*]} " != *" -DXNAT_ATTR_NAME="* ]] || children_named=1
# The inbound figure's iptables recipe needs the NETMAP target, which the
# base test kernel leaves out: built here from that kernel's own source, for
# bench.sh to load.
if [ "$part" != children ] && grep -qx '# CONFIG_NETFILTER_XT_TARGET_NETMAP is not set' "$kernel/.config" 2>/dev/null; then
	mkdir -p "$out/xt_netmap"
	if ! { cp "$kernel/source/net/netfilter/xt_NETMAP.c" "$out/xt_netmap/" &&
		echo 'obj-m := xt_NETMAP.o' >"$out/xt_netmap/Kbuild" &&
		make -s -C "$kernel" M="$out/xt_netmap" LLVM=1 modules &&
		cp "$out/xt_netmap/xt_NETMAP.ko" "$out/bin/"; }; then
		echo "cannot build xt_NETMAP for $kernel" >&2
		exit 2
	fi
fi
# The guest gets XNAT_KO and XNAT_CTL from scripts/vm-run.sh, not arbitrary
# variables: bench.sh reads this file.
{
	echo "BENCH_ROUNDS=${BENCH_ROUNDS:-5}"
	echo "BENCH_SECONDS=${BENCH_SECONDS:-2}"
	echo "BENCH_NS='${BENCH_NS:-1 100 1000 10000}'"
	echo "BENCH_XFRM_MONITOR=${BENCH_XFRM_MONITOR:-0}"
	echo "BENCH_PART=$part"
	echo "BENCH_CHILDREN=${BENCH_CHILDREN:-10000}"
	echo "BENCH_CHILDREN_ROUNDS=${BENCH_CHILDREN_ROUNDS:-1}"
	echo "CHILDREN_NAMED=$children_named"
} >"$out/bench.env"

echo "[bench] kernel $kernel; results in $out"
t0=$(date +%s)
XNAT_KO=$out/bin/xfrm_nat.ko XNAT_CTL=$out/bin/xnatctl \
	"$top/scripts/vm-run.sh" -k "$kernel" -o "$out" -t "${BENCH_VM_LIMIT:-3600}" -- \
	bash tests/bench/bench.sh "$out" </dev/null
rc=$?
secs=$(($(date +%s) - t0))
echo "[bench] VM run: $secs s, exit status $rc"
{
	echo "vm_seconds=$secs"
	echo "commit=$(git -C "$top" describe --always --dirty 2>/dev/null || echo unknown)"
	echo "date=$(date -u +%F)"
} >>"$out/meta.txt" 2>/dev/null
[ "$rc" = 0 ] || { echo "[bench] the VM part failed (logs: $out/output.log, console.log); no table" >&2; exit 1; }
args=("$out" --svg "$out")
[ -z "${BENCH_PLOTS:-}" ] || args+=(--svg "$BENCH_PLOTS")
python3 "$top/tests/bench/report.py" "${args[@]}" | tee "$out/table.txt"
exit "${PIPESTATUS[0]}"
