#!/usr/bin/env bash
# `make bench-insns`: guest instructions per new NATed flow with xfrm-nat,
# iptables and nftables, counted by a QEMU TCG plugin (tbcount.c) in one
# boot of a test kernel, then the table (insns.py).  Where `make bench`
# measures time, whose noise under TCG (5-10% between boots) hides
# differences of a few percent, this counts the work itself and says which
# kernel functions it goes to.  A benchmark: figures, no assertion.
#
#   tests/bench/run-insns.sh KERNEL
#
# QEMU's plugin header is not packaged in Debian 12: the first run takes
# include/qemu/qemu-plugin.h from the source of the installed QEMU (its
# .orig tarball, about 23 MB from the Debian archive) into
# $XNAT_CACHE/qemu-plugin/VERSION/.
#
# Environment: BENCH_ROUNDS (default 3), BENCH_SECONDS (default 2) per
# window, BENCH_NS (default "1 10000"), BENCH_TRAFFIC (mapped, the
# default: new NATed flows into the tunnel; unmapped: new flows to the
# router, outside every mapping), BENCH_RESULTS (default
# $XNAT_CACHE/results/bench-insns), DEBIAN_MIRROR.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
kernel=${1:?usage: run-insns.sh KERNEL}
XNAT_CACHE=${XNAT_CACHE:-$HOME/.cache/xfrm-nat}
out=${BENCH_RESULTS:-$XNAT_CACHE/results/bench-insns}
ko=$top/module/xfrm_nat.ko
ctl=$top/tools/xnatctl/target/release/xnatctl
die() { echo "[bench-insns] error: $*" >&2; exit 2; }
[ -f "$ko" ] || die "no module at $ko: run make module"
[ -x "$ctl" ] || die "no xnatctl at $ctl: run make cli"
for v in BENCH_ROUNDS BENCH_SECONDS; do
	[[ ${!v:-1} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done
case ${BENCH_TRAFFIC:-mapped} in mapped | unmapped) ;; *) die "BENCH_TRAFFIC must be mapped or unmapped, got '$BENCH_TRAFFIC'" ;; esac
qemu-system-x86_64 -help 2>/dev/null | grep -q -- '^-plugin' || die "this QEMU has no TCG plugin support (-plugin)"

# The plugin header of the installed QEMU's version.
qver=$(dpkg-query -W -f='${Version}' qemu-system-x86 2>/dev/null) || die "qemu-system-x86 is not installed (make deps)"
upstream=${qver#*:}
upstream=${upstream%-*}
hdir=$XNAT_CACHE/qemu-plugin/$upstream
if [ ! -f "$hdir/qemu-plugin.h" ]; then
	url=${DEBIAN_MIRROR:-http://deb.debian.org/debian}/pool/main/q/qemu/qemu_$upstream.orig.tar.xz
	echo "[bench-insns] fetching QEMU's plugin header from $url"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	curl -fsSL -o "$tmp/qemu.tar.xz" "$url" || die "cannot download $url"
	tar -xJf "$tmp/qemu.tar.xz" -C "$tmp" --wildcards '*/include/qemu/qemu-plugin.h' ||
		die "no include/qemu/qemu-plugin.h in $url"
	mkdir -p "$hdir"
	cp "$tmp"/*/include/qemu/qemu-plugin.h "$hdir/"
fi

rm -rf "$out"
mkdir -p "$out/bin"
cp "$ko" "$ctl" "$out/bin/"
cc -O2 -Wall -shared -fPIC -I"$hdir" -o "$out/bin/tbcount.so" "$top/tests/bench/tbcount.c" -lpthread ||
	die "cannot build the plugin"
# Static and not position-independent: window_mark() is at the same
# address in every flowgen process, and no other program has code there.
cc -O2 -Wall -static -no-pie -o "$out/bin/flowgen" "$top/tests/bench/flowgen.c" || die "cannot build flowgen (static)"
mark=$(nm "$out/bin/flowgen" | awk '$3 == "window_mark" { print $1 }')
[ -n "$mark" ] || die "no window_mark in flowgen"
{
	echo "BENCH_ROUNDS=${BENCH_ROUNDS:-3}"
	echo "BENCH_SECONDS=${BENCH_SECONDS:-2}"
	echo "BENCH_NS='${BENCH_NS:-1 10000}'"
	echo "BENCH_TRAFFIC=${BENCH_TRAFFIC:-mapped}"
} >"$out/bench.env"

echo "[bench-insns] kernel $kernel; results in $out"
t0=$(date +%s)
XNAT_VM_QEMU_OPTS="-plugin $out/bin/tbcount.so,mark=$mark,out=$out/tb" \
	XNAT_KO=$out/bin/xfrm_nat.ko XNAT_CTL=$out/bin/xnatctl \
	"$top/scripts/vm-run.sh" -k "$kernel" -o "$out" -t "${BENCH_VM_LIMIT:-2400}" -- \
	bash tests/bench/insns.sh "$out" </dev/null
rc=$?
echo "[bench-insns] VM run: $(($(date +%s) - t0)) s, exit status $rc"
[ "$rc" = 0 ] || { echo "[bench-insns] the VM part failed (logs: $out/output.log, console.log); no table" >&2; exit 1; }
python3 "$top/tests/bench/insns.py" "$out" | tee "$out/table.txt"
exit "${PIPESTATUS[0]}"
