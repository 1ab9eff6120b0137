#!/usr/bin/env bash
# Build the test kernel (variant "base" or "debug") outside the repository.
# Tests of what distributions do (netfilter and IPsec as modules, an
# installed module) boot Debian 13's own kernel instead (scripts/vm-run.sh
# -k stock).
#
#   [KSERIES=6.12|7.3] scripts/build-kernel.sh [base|debug]
#
# KSERIES picks the kernel: 6.12 (default) from Debian's linux-source-6.12
# package, built with the default LLVM (LLVM=1, clang 14) and bindgen 0.70
# from $XNAT_TOOLS/bin; 7.3 from Debian's linux-source-7.3 (trixie-backports,
# fetched by scripts/fetch-kernel-source.sh), built with LLVM=-19 and bindgen
# 0.71 from $XNAT_TOOLS/bindgen-0.71, as 7.3 needs LLVM >= 17 and bindgen >=
# 0.71.1.  7.3 merges tests/kernel/7.3.config last (what 7.3 renamed), then
# tests/kernel/7.3-<variant>.config where there is one.
#
# The build lives in $XNAT_CACHE/build/<kernel version>-<variant>-<hash>, where
# the hash covers the config fragments, this script, the Rust compiler,
# bindgen and LLVM: rerunning with nothing changed reuses it, and any change
# rebuilds.  The tree records the toolchain that built it in .xnat-toolchain,
# which module/Makefile reads.  The kernel tree path is printed as the last
# line of stdout.
set -euo pipefail

variant=${1:-base}
series=${KSERIES:-6.12}
top=$(cd "$(dirname "$0")/.." && pwd)
XNAT_CACHE=${XNAT_CACHE:-$HOME/.cache/xfrm-nat}
XNAT_TOOLS=${XNAT_TOOLS:-$XNAT_CACHE}
jobs=${XNAT_JOBS:-$(($(nproc) + 1))}

log() { printf '[kernel] %s\n' "$*" >&2; }
die() { printf '[kernel] error: %s\n' "$*" >&2; exit 1; }

case $variant in
base) fragments=("$top/tests/kernel/base.config") ;;
debug) fragments=("$top/tests/kernel/base.config" "$top/tests/kernel/debug.config") ;;
*) die "unknown variant '$variant' (base or debug)" ;;
esac

# llvm: the kernel's LLVM= (1: clang, ld.lld... from PATH; -19: clang-19...);
# bindgen_rel: bindgen, relative to $XNAT_TOOLS (where make deps put it).
case $series in
6.12)
	tarball=/usr/src/linux-source-6.12.tar.xz
	[ -r "$tarball" ] || die "$tarball missing: run scripts/install-deps.sh (package linux-source-6.12)"
	srcver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
	llvm=1 llvm_suffix=
	bindgen_rel=bin/bindgen
	;;
7.3)
	fetched=$("$top/scripts/fetch-kernel-source.sh" 7.3) ||
		die "no linux-source-7.3: run scripts/install-deps.sh (it fetches it)"
	tarball=$(sed -n 1p <<<"$fetched") srcver=$(sed -n 2p <<<"$fetched")
	llvm=-19 llvm_suffix=-19
	bindgen_rel=bindgen-0.71/bin/bindgen
	fragments+=("$top/tests/kernel/7.3.config")
	[ ! -f "$top/tests/kernel/7.3-$variant.config" ] || fragments+=("$top/tests/kernel/7.3-$variant.config")
	;;
*) die "unknown KSERIES '$series' (6.12 or 7.3)" ;;
esac
bindgen=$XNAT_TOOLS/$bindgen_rel

# bindgen loads libclang at run time, and picks the newest one it finds: with
# clang-19 installed, that is 19 even for a tree that clang 14 builds.  Pin it
# to the LLVM that compiles the C side, as the kernel expects.
libclang=$(llvm-config$llvm_suffix --libdir 2>/dev/null) ||
	die "llvm-config$llvm_suffix not found: run scripts/install-deps.sh"
export LIBCLANG_PATH=$libclang
rustver=$(/usr/bin/rustc --version)
bindgenver=$("$bindgen" --version 2>/dev/null) || die "$bindgen does not run: run scripts/install-deps.sh"
llvmver=$(clang$llvm_suffix --version 2>/dev/null | head -n1) || die "clang$llvm_suffix not found: run scripts/install-deps.sh"
key=$( { cat "${fragments[@]}" "$0"; echo "$srcver $rustver $bindgenver $llvmver"; } | sha256sum | cut -c1-12)

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
	make -C "$src" O="$out" LLVM="$llvm" RUSTC=/usr/bin/rustc \
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
# A later fragment overrides an earlier one.
# "# CONFIG_X is not set" is checked too; an option the kernel does not have
# at all counts as not set (tests/kernel/7.3.config lists those it dropped).
declare -A wanted=()
while IFS= read -r line; do
	case $line in
	CONFIG_*=*) wanted[${line%%=*}]=$line ;;
	'# CONFIG_'*' is not set') opt=${line#\# }; wanted[${opt%% *}]=$line ;;
	esac
done < <(cat "${fragments[@]}")
dropped=0
for opt in "${!wanted[@]}"; do
	line=${wanted[$opt]}
	if [[ $line == '#'* ]] && ! grep -qE "^$opt=" "$out/.config"; then
		continue
	fi
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
# What module/Makefile must build with, for this tree.  BINDGEN is relative
# to XNAT_TOOLS (CI installs the tools afresh into a new directory each run).
cat >"$out/.xnat-toolchain" <<EOF
# The toolchain that built this tree (scripts/build-kernel.sh); module/Makefile reads it.
KSERIES=$series
LLVM=$llvm
BINDGEN=$bindgen_rel
BINDGEN_VERSION=${bindgenver#bindgen }
LIBCLANG_PATH=$libclang
EOF
touch "$out/.xnat-built"
echo "$out"
