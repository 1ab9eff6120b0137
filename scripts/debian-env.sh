#!/usr/bin/env bash
# A Debian 13 (trixie) root made from Debian's archive alone, under the
# project's cache: the stock Rust-enabled kernel of trixie-backports (image,
# headers and source of one version), the toolchain Debian built it with
# (rustc, rust-src, bindgen, gcc, LLVM 19), Debian's packaging tools, and the
# userland the VM tests run in the guest (the root is the guest's root too).
# The host (Debian 12) is not changed: no apt source, no package.
#
#   scripts/debian-env.sh [create]       make it if needed; print its path
#   scripts/debian-env.sh run CMD...     run CMD inside it, as root
#
# `run` gives CMD a private mount namespace: /proc, /sys, /dev and a fresh
# /tmp, plus the checkout and $XNAT_CACHE bind-mounted at their own paths
# (XNAT_ENV_BIND="DIR..." adds more).  The mounts end with CMD, so nothing
# outlives it and removing the cache never reaches through a mount.
# XNAT_ENV_OVERLAY=DIR runs CMD on an overlay of the root instead, whose
# changes go to DIR/upper: packages installed there (the .deb tests) leave
# the cached root as it was.  With XNAT_ENV_OVERLAY_RO=1 that overlay is
# mounted read-only (no upper directory of its own), so several CMDs, the
# guests of one VM test run, can share it at once.
#
# The root is $XNAT_CACHE/debian13/root-KEY, KEY a hash of its recipe (the
# package lists and the provisioning steps): a change there makes a new
# root; otherwise the one made is reused.
# Its stock kernel is what trixie-backports served when it was made; its
# release is in the root's /etc/xnat-stock-kernel (KREL=, VERSION=).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
export XNAT_CACHE=${XNAT_CACHE:-$HOME/.cache/xfrm-nat}
mirror=${XNAT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

log() { printf '[debian-env] %s\n' "$*" >&2; }
die() { printf '[debian-env] error: %s\n' "$*" >&2; exit 1; }

# The stock kernel: the metapackages of trixie-backports pick its current
# ABI; the three must come out at one version (checked below).
kernel_pkgs=(linux-image-amd64/trixie-backports linux-headers-amd64/trixie-backports
	linux-source/trixie-backports)
pkgs=(
	# the toolchain that built the stock kernel, and what Kbuild needs
	rustc rust-src bindgen gcc make bc bison flex libelf-dev libssl-dev cpio kmod
	xz-utils python3 clang lld llvm
	# Debian packaging (make deb) and DKMS
	debhelper dh-dkms dkms dpkg-dev fakeroot lintian cargo
	# the VM: QEMU and virtme-ng boot the stock image with this root
	qemu-system-x86 virtme-ng busybox-static udev
	# what the tests run in the guest
	iproute2 iputils-ping nftables iptables tcpdump procps util-linux curl
	strongswan-charon strongswan-swanctl libnss3-tools python3-yaml
	python3-jsonschema systemd
)

# The guest's libreswan: trixie's package conflicts with strongSwan's, so it
# is unpacked (dpkg -x) into /opt/xnat/libreswan, its libraries installed;
# tests/libreswan.sh runs pluto from there, as on the host.
provision_libreswan() {
	local r=$1 deps
	chroot "$r" sh -euc '
		cd /tmp && rm -f libreswan_*.deb
		apt-get download -q libreswan >/dev/null
		deps=$(dpkg-deb -f libreswan_*.deb Depends | tr "," "\n" |
			sed "s/(.*)//; s/|.*//; s/ //g" | grep -v "^$")
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $deps >/dev/null
		rm -rf /opt/xnat/libreswan && mkdir -p /opt/xnat/libreswan
		dpkg -x libreswan_*.deb /opt/xnat/libreswan
		dpkg-deb -f libreswan_*.deb Version >/opt/xnat/libreswan/.version
		rm -f libreswan_*.deb
		/opt/xnat/libreswan/usr/libexec/ipsec/pluto --version >/dev/null'
}

# The kernel's own netlink client (tools/net/ynl) and its schemas, from the
# stock kernel's source, for tests/vm/16-ynl.sh in the guest.
provision_ynl() {
	local r=$1
	chroot "$r" sh -euc '
		rm -rf /opt/xnat/linux-source && mkdir -p /opt/xnat/linux-source
		tar -xf /usr/src/linux-source-*.tar.xz -C /opt/xnat/linux-source --strip-components=1 \
			--wildcards "*/tools/net/ynl/*" "*/Documentation/netlink/*"
		test -f /opt/xnat/linux-source/tools/net/ynl/pyynl/cli.py ||
			test -f /opt/xnat/linux-source/tools/net/ynl/cli.py'
}

# A second kernel's headers for the DKMS rebuild check (tests/package.sh):
# the cloud flavour of the stock version, kept as .deb files (with the one
# package they need that the root lacks) in /opt/xnat/debs.
provision_second_headers() {
	local r=$1 krel=$2
	chroot "$r" sh -euc '
		mkdir -p /opt/xnat/debs && cd /opt/xnat/debs && rm -f ./*.deb
		apt-get download -q "linux-headers-${1%-amd64}-cloud-amd64" \
			"linux-base-${1%-amd64}-cloud-amd64" >/dev/null' - "$krel"
}

create() {
	if [ -f "$root/.xnat-ready" ]; then
		echo "$root"
		return
	fi
	command -v mmdebstrap >/dev/null || die "mmdebstrap not found: run scripts/install-deps.sh"
	[ -r "$keyring" ] || die "$keyring missing (package debian-archive-keyring)"
	local tmp=$root.tmp
	mkdir -p "$(dirname "$root")"
	# One maker at a time (the guests of a VM run may all ask at once); a
	# second one finds the root made when it gets the lock.
	exec 9>"$root.lock"
	flock 9
	if [ -f "$root/.xnat-ready" ]; then
		echo "$root"
		return
	fi
	if ! [ -f "$tmp/.xnat-bootstrapped" ]; then
		rm -rf "$tmp"
		log "creating the Debian 13 root in $root (mmdebstrap, $mirror)"
		local list
		list=$(IFS=,; echo "${pkgs[*]},${kernel_pkgs[*]}")
		mmdebstrap --mode=root --variant=apt --keyring="$keyring" \
			--aptopt='APT::Install-Recommends "false"' \
			--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
			--dpkgopt='path-exclude=/usr/share/locale/*' \
			--include="$list" \
			trixie "$tmp" \
			"deb [signed-by=$keyring] $mirror trixie main" \
			"deb [signed-by=$keyring] $mirror trixie-updates main" \
			"deb [signed-by=$keyring] $mirror trixie-backports main" >&2 ||
			die "mmdebstrap failed (network, or a package trixie does not serve)"
		touch "$tmp/.xnat-bootstrapped"
	fi
	cp /etc/resolv.conf "$tmp/etc/resolv.conf"
	chroot "$tmp" apt-get update -q >/dev/null || die "apt-get update in $tmp failed"
	provision_libreswan "$tmp" || die "libreswan could not be unpacked into $tmp/opt/xnat/libreswan"
	provision_ynl "$tmp" || die "no tools/net/ynl in the stock kernel's source"

	local image headers source krel vi vh vs
	image=$(chroot "$tmp" dpkg-query -W -f='${Depends}' linux-image-amd64 |
		tr ',' '\n' | sed -n 's/^ *\(linux-image-[0-9][^ ]*\).*/\1/p')
	[ -n "$image" ] || die "linux-image-amd64 names no linux-image-VERSION package"
	krel=${image#linux-image-}
	headers=linux-headers-$krel
	source=$(chroot "$tmp" dpkg-query -W -f='${Depends}' linux-source | sed 's/[ ,(].*//')
	vi=$(chroot "$tmp" dpkg-query -W -f='${Version}' "$image")
	vh=$(chroot "$tmp" dpkg-query -W -f='${Version}' "$headers")
	vs=$(chroot "$tmp" dpkg-query -W -f='${Version}' "$source")
	[ "$vi" = "$vh" ] && [ "$vi" = "$vs" ] ||
		die "the stock kernel's packages differ in version: $image $vi, $headers $vh, $source $vs"
	grep -qx 'CONFIG_RUST=y' "$tmp/usr/src/$headers/.config" ||
		die "$image is built without CONFIG_RUST: no Rust module can load into it"
	provision_second_headers "$tmp" "$krel" || die "no cloud-flavour headers of $krel in trixie-backports"
	printf 'KREL=%s\nVERSION=%s\nSOURCE=%s\n' "$krel" "$vi" "$source" >"$tmp/etc/xnat-stock-kernel"
	log "stock kernel $krel ($vi), $(chroot "$tmp" rustc --version)"
	touch "$tmp/.xnat-ready"
	mv "$tmp" "$root"
	echo "$root"
}

# run CMD...: CMD in the root (or an overlay of it), in a mount namespace
# of its own.
run() {
	[ -f "$root/.xnat-ready" ] || create >/dev/null
	local binds=("$top" "$XNAT_CACHE") overlay=${XNAT_ENV_OVERLAY:-}
	# shellcheck disable=SC2206 # a list of directories
	binds+=(${XNAT_ENV_BIND:-})
	local ro=${XNAT_ENV_OVERLAY_RO:-}
	[ -z "$overlay" ] || mkdir -p "$overlay/upper" "$overlay/work" "$overlay/merged"
	exec unshare --mount --propagation private -- bash -euc '
		root=$1 overlay=$2 ro=$3 nb=$4
		shift 4
		if [ -n "$overlay" ] && [ -n "$ro" ]; then
			# Each CMD its own mount point: the merged directory is shared.
			merged=$(mktemp -d "$overlay/ro.XXXXXX")
			mount -t overlay overlay -o "lowerdir=$overlay/upper:$root" "$merged"
			root=$merged
		elif [ -n "$overlay" ]; then
			mount -t overlay overlay -o "lowerdir=$root,upperdir=$overlay/upper,workdir=$overlay/work" "$overlay/merged"
			root=$overlay/merged
		fi
		mount -t proc proc "$root/proc"
		mount --rbind /sys "$root/sys"
		mount --rbind /dev "$root/dev"
		mount -t tmpfs tmpfs "$root/tmp"
		mount -t tmpfs tmpfs "$root/run"
		[ -n "$ro" ] || cp /etc/resolv.conf "$root/etc/resolv.conf"
		for ((i = 0; i < nb; i++)); do
			d=$1; shift
			mkdir -p "$root$d"
			mount --rbind "$d" "$root$d"
		done
		exec chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
			PATH=/usr/sbin:/usr/bin:/sbin:/bin XNAT_CACHE="$XNAT_CACHE" \
			XNAT_TOOLS=/opt/xnat "$@"
	' - "$root" "$overlay" "$ro" "${#binds[@]}" "${binds[@]}" "$@"
}

# The root is keyed by what goes into it, not by the rest of this script.
recipe=2
key=$( { echo "$recipe" "$mirror"; declare -f provision_libreswan provision_ynl provision_second_headers; printf '%s\n' "${pkgs[@]}" "${kernel_pkgs[@]}"; } | sha256sum | cut -c1-12)
root=$XNAT_CACHE/debian13/root-$key

case ${1:-create} in
create) create ;;
run) shift; [ $# -gt 0 ] || die "usage: $0 run CMD..."; run "$@" ;;
path) echo "$root" ;;
*) die "usage: $0 [create | run CMD... | path]" ;;
esac
