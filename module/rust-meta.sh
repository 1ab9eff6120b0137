#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Give a kernel headers tree the Rust metadata that its package leaves out.
#
#   rust-meta.sh KDIR [SOURCE]
#
# A Rust module is compiled against the kernel's own crates (core, kernel,
# pin_init, macros...): KDIR/rust/*.rmeta and the proc-macro libraries
# KDIR/rust/*.so.  Distribution headers packages (Debian's linux-headers-*
# among them) do not ship them, so no Rust module can be built against them
# as they come.  This script builds them from the kernel's source (SOURCE, by
# default Debian's /usr/src/linux-source-MAJOR.MINOR.tar.xz), with the
# headers' own .config and the compiler that built the kernel, and copies
# them into KDIR/rust/.  The crates' symbol names then match the ones the
# stock vmlinux exports (Module.symvers): modpost checks that for every
# module built against them.
#
# The source must be the very version of the headers (Debian's linux-source
# package of the image's version), the rustc on PATH (or RUSTC) the one
# named by the headers' CONFIG_RUSTC_VERSION_TEXT, and bindgen (or BINDGEN)
# the one of CONFIG_BINDGEN_VERSION_TEXT; all three are checked.  Once
# done, KDIR/rust/.xnat-rust-meta records for which config and compiler, and
# a second run is instant.  Run it as root for a tree under /usr/src; DKMS
# runs it before each build (dkms.conf).
set -euo pipefail

kdir=${1:?usage: rust-meta.sh KDIR [SOURCE]}
src=${2:-}
kdir=$(cd "$kdir" && pwd -P)
rustc=${RUSTC:-rustc}
bindgen=${BINDGEN:-bindgen}

say() { echo "rust-meta: $*" >&2; }
die() { echo "rust-meta: error: $*" >&2; exit 1; }

conf=$kdir/.config
[ -f "$conf" ] || die "$kdir has no .config: not a configured kernel tree"
grep -qx 'CONFIG_RUST=y' "$conf" || die "$kdir is configured without CONFIG_RUST=y"
release=$(cat "$kdir/include/config/kernel.release") || die "$kdir has no include/config/kernel.release"

want=$(sed -n 's/^CONFIG_RUSTC_VERSION_TEXT="\(.*\)"$/\1/p' "$conf")
have=$("$rustc" --version 2>/dev/null) || die "$rustc not found: install the rustc that built the kernel ($want)"
[ "$want" = "$have" ] || die "the kernel was built by '$want', but $rustc is '$have': a Rust module needs the same compiler"

# The kernel crate's bindings are bindgen's output: the same bindgen, where
# the kernel records which (7.x does).
want=$(sed -n 's/^CONFIG_BINDGEN_VERSION_TEXT="\(.*\)"$/\1/p' "$conf")
if [ -n "$want" ]; then
	bg=$("$bindgen" --version 2>/dev/null) || die "$bindgen not found: install $want"
	[ "$bg" = "$want" ] || die "the kernel's bindings were made by '$want', but $bindgen is '$bg'"
fi

stamp=$kdir/rust/.xnat-rust-meta
id="$(sha256sum "$conf" | cut -c1-16) $have"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$id" ] && [ -f "$kdir/rust/libkernel.rmeta" ]; then
	say "$kdir/rust is up to date"
	exit 0
fi

# The compiler the kernel's C was built with: Kbuild checks it against the
# config, and the bindings of the kernel crate come from its flags.
if grep -qx 'CONFIG_CC_IS_CLANG=y' "$conf"; then
	cc=clang
	ccarg=LLVM=1
else
	cc=$(sed -n 's/^CONFIG_CC_VERSION_TEXT="\([^ ]*\) .*/\1/p' "$conf")
	command -v "$cc" >/dev/null || cc=gcc-$(sed -n 's/^CONFIG_GCC_VERSION=\([0-9]*\)[0-9][0-9][0-9][0-9]$/\1/p' "$conf")
	ccarg=CC=$cc
fi
command -v "$cc" >/dev/null 2>&1 || die "the kernel's C compiler ($cc) is not installed"

series=$(echo "$release" | sed -n 's/^\([0-9]*\.[0-9]*\).*/\1/p')
src=${src:-/usr/src/linux-source-$series.tar.xz}
[ -r "$src" ] || die "no kernel source at $src: install linux-source-$series of the image's version"

work=$(mktemp -d "${TMPDIR:-/var/tmp}/rust-meta.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
say "unpacking $src"
case $src in
*.tar.*) tar -xf "$src" -C "$work" --strip-components=1 ;;
*) [ -d "$src" ] || die "$src is neither a tarball nor a directory"; cp -a "$src/." "$work/" ;;
esac
version=$(make -s -C "$work" kernelversion)
case $release in
"$version"*) ;;
*) die "$src is Linux $version, but the headers are for $release" ;;
esac

kmake() {
	make -s -C "$work" "$@" RUSTC="$rustc" BINDGEN="$bindgen" \
		KBUILD_BUILD_TIMESTAMP= LOCALVERSION= -j"$(nproc)"
}
cp "$conf" "$work/.config"
kmake "$ccarg" olddefconfig >/dev/null
# Anything the source or these tools change in the config would build
# other crates than the kernel's.  Only comment lines may differ.
if ! diff -q <(grep -v '^#' "$conf") <(grep -v '^#' "$work/.config") >/dev/null 2>&1; then
	diff <(grep -v '^#' "$conf") <(grep -v '^#' "$work/.config") | head -n 20 >&2 || true
	die "the headers' config does not hold as is for $src with these tools (diff above)"
fi
say "building the kernel's Rust crates for $release ($have)"
kmake "$ccarg" prepare
kmake "$ccarg" rust/

mkdir -p "$kdir/rust"
cp "$work"/rust/*.rmeta "$work"/rust/*.so "$kdir/rust/"
[ -f "$kdir/scripts/target.json" ] || [ ! -f "$work/scripts/target.json" ] ||
	cp "$work/scripts/target.json" "$kdir/scripts/target.json"
echo "$id" >"$stamp"
say "installed $(ls "$kdir"/rust/*.rmeta "$kdir"/rust/*.so | wc -l) files into $kdir/rust"
