#!/usr/bin/env bash
# The module built for Debian 13's stock kernel links against that kernel
# as Debian ships it (modpost has checked the same; this says it with the
# stock files themselves):
#
#   tests/symbols.sh KO ROOT KREL
#
# - every symbol KO leaves undefined, Rust and C, is exported under the
#   same name by the stock Module.symvers (vmlinux or one of its modules);
# - KO's vermagic equals that of the image's own modules;
# - every module KO depends on is one the image ships.
#
# ROOT is the Debian 13 root (scripts/debian-env.sh), KREL the stock
# kernel's release.  The last line sums it up.
set -euo pipefail

ko=${1:?usage: symbols.sh KO ROOT KREL}
root=${2:?usage: symbols.sh KO ROOT KREL}
krel=${3:?usage: symbols.sh KO ROOT KREL}
symvers=$root/usr/src/linux-headers-$krel/Module.symvers
mods=$root/lib/modules/$krel

fail() { echo "FAIL: $*"; exit 1; }

[ -f "$ko" ] || fail "no module at $ko"
[ -f "$symvers" ] || fail "no Module.symvers at $symvers"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nm -u "$ko" | awk '{ print $2 }' | sort -u >"$tmp/undefined"
# Module.symvers: CRC, symbol, where (vmlinux or the module's path), ...
awk '{ print $2 }' "$symvers" | sort -u >"$tmp/exported"
[ -s "$tmp/undefined" ] || fail "nm finds no undefined symbol in $ko"

missing=$(comm -23 "$tmp/undefined" "$tmp/exported")
[ -z "$missing" ] || fail "not exported by $krel: $(echo $missing)"

rust=$(grep -c '^_R' "$tmp/undefined" || true)
total=$(wc -l <"$tmp/undefined")
# Where each comes from.
from=$(awk 'NR == FNR { want[$1] = 1; next } ($2 in want) { n = split($3, p, "/"); sub(/\.ko$/, "", p[n]); print p[n] }' \
	"$tmp/undefined" "$symvers" | sort | uniq -c | sort -rn | awk '{ printf "%s%s %s", sep, $1, $2; sep = ", " }')
echo "undefined in $(basename "$ko"): $total ($rust Rust, $((total - rust)) C), all exported by $krel: $from"

stock=$(find "$mods/kernel/net/netfilter" -name 'nf_nat.ko*' | head -n1)
[ -n "$stock" ] || fail "no nf_nat module under $mods"
want=$(modinfo -F vermagic "$stock")
have=$(modinfo -F vermagic "$ko")
[ "$want" = "$have" ] || fail "vermagic '$have' differs from the stock modules' '$want'"
echo "vermagic: $have (as $(basename "$stock"))"

deps=$(modinfo -F depends "$ko")
for d in ${deps//,/ }; do
	modinfo -b "$root" -k "$krel" -n "$d" >/dev/null 2>&1 || fail "depends on $d, which $krel does not ship"
done
# The layout checks (module/net/layout.rs against the C shim) run when the
# module loads, on this config: say which xfrm layout that is.
sub=$(grep -E '^(# )?CONFIG_XFRM_SUB_POLICY[ =]' "$root/usr/src/linux-headers-$krel/.config" || echo "CONFIG_XFRM_SUB_POLICY absent")
echo "config: $sub (struct xfrm_policy's layout the module's load-time check sees)"
echo "ok: $total symbols resolved by $krel's exports, vermagic '$have', depends on ${deps:-nothing} (shipped)"
