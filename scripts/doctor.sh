#!/usr/bin/env bash
# Which of the tools xfrm-nat needs are present, where they were found, and
# which are missing.  Fast (a few seconds), read-only, no root needed.
#
#   scripts/doctor.sh        (make doctor)
#
# Tools the project installs itself (bindgen, virtme-ng) count only where
# scripts/install-deps.sh puts them, $XNAT_TOOLS/bin; a copy elsewhere on PATH
# is named, as it is ignored.  Exits 1 if anything required is missing.
set -uo pipefail

XNAT_CACHE=${XNAT_CACHE:-$HOME/.cache/xfrm-nat}
XNAT_TOOLS=${XNAT_TOOLS:-$XNAT_CACHE}
tools_bin=$XNAT_TOOLS/bin
missing=0

# row STATUS WHAT WHERE
row() { printf '%-8s %-24s %s\n' "$1" "$2" "$3"; }
bad() { row missing "$1" "$2"; missing=$((missing + 1)); }

# cmd NAME PACKAGE [WHAT]: a program found through PATH (Debian's).
cmd() {
	local p
	if p=$(command -v "$1"); then
		row ok "${3:-$1}" "$p"
	else
		bad "${3:-$1}" "not on PATH (Debian package $2; make deps)"
	fi
}

# file PATH PACKAGE WHAT: a file at a fixed place.
file() {
	if [ -e "$1" ]; then row ok "$3" "$1"; else bad "$3" "$1 (Debian package $2; make deps)"; fi
}

# own NAME [FLAG]: a program the project installs into $tools_bin; it must
# run (with FLAG, default --version, whose first line is shown).
own() {
	local p=$tools_bin/$1 v others
	others=$(type -ap "$1" 2>/dev/null | grep -vxF "$p" | tr '\n' ' ')
	if [ -x "$p" ] && v=$("$p" "${2:---version}" 2>&1); then
		[ "${2:-}" != --help ] || v="it runs"
		row ok "$1" "$p (${v%%$'\n'*})"
	else
		bad "$1" "$p does not run (make deps)"
	fi
	[ -z "$others" ] || row note "$1" "also on PATH, ignored by the project: $others"
}

echo "== kernel and module build"
if [ -x /usr/bin/rustc ]; then
	row ok "rustc (rustc-web)" "/usr/bin/rustc ($(/usr/bin/rustc --version 2>&1))"
else
	bad "rustc (rustc-web)" "/usr/bin/rustc (Debian package rustc-web; make deps)"
fi
file /usr/lib/rustlib/src/rust/library rust-web-src "rust library source"
cmd cargo "(rustup's toolchain)" "cargo (rustup)"
own bindgen
for c in clang ld.lld llvm-ar; do cmd "$c" "clang lld llvm"; done
file /usr/lib/llvm-14/lib/libclang.so libclang-dev libclang
for c in make gcc bc bison flex cpio depmod xz; do cmd "$c" "$c"; done
file /usr/src/linux-source-6.12.tar.xz linux-source-6.12 "linux-source-6.12"

if /usr/bin/python3 -c 'import yaml, jsonschema' 2>/dev/null; then
	row ok "python3 yaml+jsonschema" "/usr/bin/python3"
else
	bad "python3 yaml+jsonschema" "/usr/bin/python3 cannot import them (python3-yaml python3-jsonschema)"
fi

echo "== Linux 7.3: Debian 13's stock kernel (KSERIES=7.3)"
cmd mmdebstrap mmdebstrap
root=$("$(dirname "$0")/debian-env.sh" path 2>/dev/null)
if [ -f "$root/.xnat-ready" ]; then
	row ok "Debian 13 root" "$root ($(sed -n 's/^KREL=//p' "$root/etc/xnat-stock-kernel"))"
else
	row info "Debian 13 root" "not made yet (the first KSERIES=7.3 run makes it: scripts/debian-env.sh)"
fi

echo "== 7.3 debug kernel build (make check-debug KSERIES=7.3; optional)"
for c in clang-19 ld.lld-19 llvm-ar-19; do
	p=$(command -v "$c") && row ok "$c" "$p" || row info "$c" "absent (make deps VARIANT=debug KSERIES=7.3)"
done
if [ -x "$XNAT_TOOLS/bindgen-0.71/bin/bindgen" ] && v=$("$XNAT_TOOLS/bindgen-0.71/bin/bindgen" --version 2>&1); then
	row ok "bindgen (7.3)" "$XNAT_TOOLS/bindgen-0.71/bin/bindgen ($v)"
else
	row info "bindgen (7.3)" "absent (make deps VARIANT=debug KSERIES=7.3)"
fi

echo "== virtual machine"
own vng
own virtme-run --help
cmd qemu-system-x86_64 qemu-system-x86
cmd udevadm udev

echo "== tools the VM tests use (the guest runs the host's)"
for c in ip:iproute2 ping:iputils-ping nft:nftables iptables:iptables tcpdump:tcpdump \
	swanctl:strongswan-swanctl unshare:util-linux timeout:coreutils sysctl:procps \
	go:golang-go curl:curl gcc:gcc; do
	cmd "${c%%:*}" "${c#*:}"
done
file /usr/lib/ipsec/charon strongswan-charon charon
cmd certutil libnss3-tools
# libreswan conflicts with strongSwan in Debian: make deps unpacks its .deb
# into $XNAT_TOOLS/libreswan instead of installing it.
lsw=$XNAT_TOOLS/libreswan/usr/libexec/ipsec/pluto
if [ -x "$lsw" ] && v=$("$lsw" --version 2>&1); then
	row ok pluto "$lsw (${v%%$'\n'*})"
else
	bad pluto "$lsw does not run (make deps unpacks Debian's libreswan there)"
fi

echo "== install tests (host)"
cmd dkms dkms
cmd systemd-analyze systemd
cmd depmod kmod

echo "== built here (make kernel, make module, make cli build these)"
kernels=$(ls -d "$XNAT_CACHE"/build/*/ 2>/dev/null | tr '\n' ' ')
row info "test kernels" "${kernels:-none yet in $XNAT_CACHE/build}"
top=$(cd "$(dirname "$0")/.." && pwd)
for f in module/xfrm_nat.ko tools/xnatctl/target/release/xnatctl; do
	if [ -e "$top/$f" ]; then row info "$(basename "$f")" "$top/$f"; else row info "$(basename "$f")" "not built yet"; fi
done

echo
if [ "$missing" = 0 ]; then
	echo "doctor: everything required is present"
else
	echo "doctor: $missing required item(s) missing; 'make deps' installs them"
	exit 1
fi
