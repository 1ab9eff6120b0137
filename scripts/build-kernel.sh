#!/usr/bin/env bash
# Build the test kernel (variant "base", "debug" or "dist") outside the
# repository.  "dist" builds IPsec and netfilter as modules, as distributions
# do; the install tests boot it.
#
# The build lives in $XNAT_CACHE/build/<kernel version>-<variant>-<hash>, where
# the hash covers the config fragments, this script, the Rust compiler and
# bindgen:
# rerunning with nothing changed reuses it, and any change rebuilds.  The
# kernel tree path is printed as the last line of stdout.
set -euo pipefail

variant=${1:-base}
top=$(cd "$(dirname "$0")/.." && pwd)
XNAT_CACHE=${XNAT_CACHE:-$HOME/.cache/xfrm-nat}
bindgen=${XNAT_TOOLS:-$XNAT_CACHE}/bin/bindgen
tarball=/usr/src/linux-source-6.12.tar.xz
jobs=${XNAT_JOBS:-$(($(nproc) + 1))}

log() { printf '[kernel] %s\n' "$*" >&2; }
die() { printf '[kernel] error: %s\n' "$*" >&2; exit 1; }

case $variant in
base) fragments=("$top/tests/kernel/base.config") ;;
debug) fragments=("$top/tests/kernel/base.config" "$top/tests/kernel/debug.config") ;;
dist) fragments=("$top/tests/kernel/base.config" "$top/tests/kernel/dist.config") ;;
*) die "unknown variant '$variant' (base, debug or dist)" ;;
esac

[ -r "$tarball" ] || die "$tarball missing: run scripts/install-deps.sh (package linux-source-6.12)"
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
rustver=$(/usr/bin/rustc --version)
bindgenver=$("$bindgen" --version 2>/dev/null) || die "$bindgen does not run: run scripts/install-deps.sh"
key=$( { cat "${fragments[@]}" "$0"; echo "$srcver $rustver $bindgenver"; } | sha256sum | cut -c1-12)

src=$XNAT_CACHE/src/linux-$srcver
out=$XNAT_CACHE/build/$srcver-$variant-$key

if [ -f "$out/.xnat-built" ]; then
	log "reusing $out"
	echo "$out"
	exit 0
fi

if ! [ -f "$src/.xnat-extracted" ]; then
	log "extracting $tarball"
	rm -rf "$src" && mkdir -p "$src"
	tar -xf "$tarball" -C "$src" --strip-components=1
	touch "$src/.xnat-extracted"
fi

kmake() {
	make -C "$src" O="$out" LLVM=1 RUSTC=/usr/bin/rustc \
		BINDGEN="$bindgen" "$@"
}

rm -rf "$out" && mkdir -p "$out"
kmake -s rustavailable >&2 || die "the kernel says Rust is not available: run scripts/install-deps.sh"

log "configuring $variant kernel in $out"
kmake -s tinyconfig >/dev/null
(cd "$out" && "$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "${fragments[@]}" >/dev/null)
kmake -s olddefconfig >/dev/null

# merge_config only warns when Kconfig drops an option; a dropped option here
# means a test would silently run without the feature it tests.
# A later fragment overrides an earlier one (dist turns base's =y into =m).
declare -A wanted=()
while IFS= read -r line; do
	case $line in CONFIG_*=*) wanted[${line%%=*}]=$line ;; esac
done < <(cat "${fragments[@]}")
dropped=0
for opt in "${!wanted[@]}"; do
	line=${wanted[$opt]}
	if ! grep -qx "$line" "$out/.config"; then
		log "config option not set as requested: $line (got: $(grep -E "^(# )?$opt[= ]" "$out/.config" || echo absent))"
		dropped=1
	fi
done
[ "$dropped" = 0 ] || die "the kernel config does not honour the fragment"

log "building (make -j$jobs); this takes a few minutes on a cold cache"
start=$(date +%s)
kmake -j"$jobs" -s >&2
log "built in $(( $(date +%s) - start )) s"
touch "$out/.xnat-built"
echo "$out"
