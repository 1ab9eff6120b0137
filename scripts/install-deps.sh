#!/usr/bin/env bash
# Install everything xfrm-nat needs to build the test kernel, the module, the
# CLI and to run the VM tests, on Debian 12 (bookworm) x86_64.
#
# Idempotent and non-interactive: a second run finds everything present and
# only verifies.  Tools that do not come from Debian (bindgen, virtme-ng) go
# under $XNAT_TOOLS (default: $XNAT_CACHE, ~/.cache/xfrm-nat): the programs
# in $XNAT_TOOLS/bin, virtme-ng's venv in $XNAT_TOOLS/venv.  Each is checked
# by running it from there, so a copy elsewhere on PATH cannot stand in.
#
#   scripts/install-deps.sh [VARIANT]
#
# The 6.12 test kernel is built with bookworm's default LLVM 14 and bindgen
# 0.70 ($XNAT_TOOLS/bin/bindgen).  make check KSERIES=7.3 runs Debian 13's
# own kernel (scripts/debian-env.sh makes that root with mmdebstrap,
# installed here), and asks for VARIANT "stock".  A 7.3 kernel built by the
# project (make kernel KSERIES=7.3, the debug one of make check-debug)
# needs LLVM >= 17 (clang-19 from bookworm), bindgen >= 0.71.1
# ($XNAT_TOOLS/bindgen-0.71/bin/bindgen) and the 7.3 source, fetched from
# trixie-backports by scripts/fetch-kernel-source.sh into $XNAT_CACHE
# without touching apt's configuration: those come with KSERIES=7.3 and any
# other VARIANT.  The two bindgens stay apart: the cached kernels are keyed
# by bindgen's version.
set -euo pipefail

variant=${1:-base}
build73=
[ "${KSERIES:-6.12}" != 7.3 ] || [ "$variant" = stock ] || build73=1

XNAT_CACHE=${XNAT_CACHE:-$HOME/.cache/xfrm-nat}
XNAT_TOOLS=${XNAT_TOOLS:-$XNAT_CACHE}
BINDGEN_VERSION='^0.70'
# For 7.3 (scripts/min-tool-version.sh: bindgen >= 0.71.1).
BINDGEN7_VERSION='^0.71'
export DEBIAN_FRONTEND=noninteractive

log() { printf '[deps] %s\n' "$*"; }
die() { printf '[deps] error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (apt-get, pip and the VM tests need it)"
command -v apt-get >/dev/null || die "apt-get not found: only Debian 12 is supported"

debs=(
	# kernel build
	clang lld llvm libclang-dev bc bison flex libelf-dev libssl-dev cpio kmod
	# the Debian 13 root of the stock kernel's tests (scripts/debian-env.sh)
	mmdebstrap debian-archive-keyring
	xz-utils make gcc python3-yaml python3-jsonschema python3-venv
	# VM harness
	qemu-system-x86 udev
	# test tools used inside the guest (the guest sees the host's root)
	iproute2 iputils-ping nftables iptables tcpdump python3 util-linux procps
	strongswan-charon strongswan-swanctl
	# libreswan's pluto (unpacked into $XNAT_TOOLS/libreswan, below): its
	# libraries, and certutil for its NSS databases
	libnss3-tools libnss3 libnspr4 libevent-core-2.1-7 libevent-pthreads-2.1-7
	libldns3 libunbound8 libcurl3-nss libldap-2.5-0 libaudit1 libcap-ng0 libpam0g
	libselinux1 libsystemd0 libcrypt1
	# senders of the compatibility tests (tests/senders, make senders)
	golang-go curl
	# install tests: DKMS builds and systemd-analyze verify on the host
	dkms systemd
)

missing_debs() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
	done
}

# The kernel's Rust build needs a compiler and a library source of the very
# same version.  Take whatever version Debian serves now: old ones vanish.
rust_debs() {
	local v
	v=$(apt-cache policy rustc-web | awk '/Candidate:/ {print $2}')
	[ -n "$v" ] && [ "$v" != "(none)" ] || die "Debian serves no rustc-web package"
	echo "rustc-web=$v rust-web-src=$v libstd-rust-web-dev=$v"
}

need_update=1
apt_install() {
	if [ "$need_update" = 1 ]; then
		apt-get update -q >/dev/null
		need_update=0
	fi
	apt-get install -y -q --no-install-recommends "$@"
}

# A 7.3 kernel built here (the debug one) needs LLVM >= 17.
[ -z "$build73" ] || debs+=(clang-19 lld-19 llvm-19 libclang-19-dev)

todo=$(missing_debs "${debs[@]}")
if [ -n "$todo" ]; then
	log "installing Debian packages: $(echo $todo)"
	# shellcheck disable=SC2086
	apt_install $todo
fi

if ! [ -x /usr/bin/rustc ] || ! [ -d /usr/lib/rustlib/src/rust/library ] ||
   ! dpkg-query -W rust-web-src >/dev/null 2>&1; then
	log "installing Debian's rustc-web with matching library source"
	need_update=1
	# shellcheck disable=SC2046
	apt_install $(rust_debs)
fi
rv=$(dpkg-query -W -f='${Version}' rustc-web 2>/dev/null || true)
sv=$(dpkg-query -W -f='${Version}' rust-web-src 2>/dev/null || true)
[ "$rv" = "$sv" ] || die "rustc-web ($rv) and rust-web-src ($sv) differ; the kernel needs both at one version"

if ! dpkg-query -W -f='${Status}' linux-source-6.12 2>/dev/null | grep -q 'install ok installed'; then
	log "installing linux-source-6.12"
	apt_install linux-source-6.12
fi

bin=$XNAT_TOOLS/bin
mkdir -p "$bin"
bindgen=$bin/bindgen
if ! "$bindgen" --version >/dev/null 2>&1; then
	command -v cargo >/dev/null || die "cargo not found (rustup's toolchain builds bindgen-cli)"
	log "building bindgen-cli $BINDGEN_VERSION (cargo, into $XNAT_TOOLS)"
	cargo install -q --locked --force --root "$XNAT_TOOLS" bindgen-cli --version "$BINDGEN_VERSION"
fi
bindgen7=$XNAT_TOOLS/bindgen-0.71/bin/bindgen
if [ -n "$build73" ]; then
	if ! "$bindgen7" --version >/dev/null 2>&1; then
		command -v cargo >/dev/null || die "cargo not found (rustup's toolchain builds bindgen-cli)"
		log "building bindgen-cli $BINDGEN7_VERSION for 7.3 (cargo, into $XNAT_TOOLS/bindgen-0.71)"
		cargo install -q --locked --force --root "$XNAT_TOOLS/bindgen-0.71" bindgen-cli --version "$BINDGEN7_VERSION"
	fi
	# Debian's linux-source-7.3, into $XNAT_CACHE (cached: instant once there).
	"$(dirname "$0")/fetch-kernel-source.sh" 7.3 >/dev/null
fi

# libreswan (pluto, for tests/vm/47-libreswan): Debian's package conflicts with
# strongSwan's (strongswan-libcharon, strongswan-starter, which the other IKE
# tests need), so it is not installed: its .deb is fetched with apt-get
# download and unpacked with dpkg -x into $XNAT_TOOLS/libreswan.  Nothing of
# it touches /etc or dpkg's state; the tests run pluto from there with their
# own config, secrets, NSS and run directories (tests/libreswan.sh).
lsw=$XNAT_TOOLS/libreswan
lsw_ok() {
	"$lsw/usr/libexec/ipsec/pluto" --version >/dev/null 2>&1 &&
		"$lsw/usr/libexec/ipsec/whack" --help >/dev/null 2>&1 &&
		grep -q '^Usage: addconn' <<<"$("$lsw/usr/libexec/ipsec/addconn" --help 2>&1)" &&
		command -v certutil >/dev/null
}
if ! lsw_ok; then
	log "fetching libreswan (apt-get download, dpkg -x into $lsw)"
	if [ "$need_update" = 1 ]; then
		apt-get update -q >/dev/null
		need_update=0
	fi
	dl=$(mktemp -d)
	(cd "$dl" && apt-get download -q -o APT::Sandbox::User=root libreswan >/dev/null) ||
		{ rm -rf "$dl"; die "apt-get download libreswan failed"; }
	rm -rf "$lsw"
	mkdir -p "$lsw"
	dpkg -x "$dl"/libreswan_*.deb "$lsw"
	dpkg-deb -f "$dl"/libreswan_*.deb Version >"$lsw/.version"
	rm -rf "$dl"
	lsw_ok || die "libreswan unpacked into $lsw, but pluto, whack or addconn does not run from there (missing library? ldd $lsw/usr/libexec/ipsec/pluto)"
fi

# virtme-ng goes into a venv of its own, made by Debian's python3 (a pyenv or
# other python3 first on PATH may lack ensurepip or vanish later).  vng starts
# virtme-run and its other programs by name through PATH, so every program of
# the package is linked into $bin; the venv's bin/ itself stays off PATH, as
# its python3 would shadow the one the tests use.
venv=$XNAT_TOOLS/venv
virtme_ok() {
	local p
	for p in vng virtme-run; do
		[ -x "$venv/bin/$p" ] || return 1
	done
	"$venv/bin/vng" --version >/dev/null 2>&1
}
if ! virtme_ok; then
	log "installing virtme-ng (pip, in $venv)"
	rm -rf "$venv"
	/usr/bin/python3 -m venv "$venv"
	"$venv/bin/pip" install -q --disable-pip-version-check virtme-ng
	virtme_ok || die "virtme-ng installed into $venv, but vng or virtme-run does not run from there"
fi
for p in "$venv"/bin/vng "$venv"/bin/virtme*; do
	[ -x "$p" ] && ln -sf "$p" "$bin/$(basename "$p")"
done

log "toolchain ready: $(/usr/bin/rustc --version), $("$bindgen" --version) (6.12)${build73:+, $("$bindgen7" --version) and $(clang-19 --version | head -n1) (7.3)}, mmdebstrap $(mmdebstrap --version | awk '{print $2}'), virtme-ng $("$bin/vng" --version 2>/dev/null | head -1), libreswan $(cat "$lsw/.version"), in $XNAT_TOOLS"
