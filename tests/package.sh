#!/usr/bin/env bash
# The Debian packages of `make deb`, checked as a user of Debian 13 meets
# them, in an overlay of the Debian 13 root (scripts/debian-env.sh), so the
# cached root stays as it was:
#
#   tests/package.sh OUTDIR lintian|install|rebuild|remove
#
# lintian  lintian accepts both packages: no error or warning that is not
#          overridden (debian/*.lintian-overrides say why)
# install  a new overlay in OUTDIR/overlay; there `apt-get install` of the
#          two .deb files, with the stock kernel's headers installed, builds
#          the module with DKMS (dkms status: installed), puts it where
#          modprobe finds it for the stock kernel, and installs xnatctl, its
#          unit, man page and config; OUTDIR/installed marks success (the
#          vm-package stage boots that overlay)
# rebuild  a second kernel's headers (the cloud flavour of the same
#          version, whose headers lack the Rust metadata as all Debian's do)
#          get the module built by DKMS's own hook, Rust metadata included
#          (the stock headers of `install` already have theirs, from the
#          env stage of make check: this is where DKMS builds it)
# remove   `apt-get purge` of both removes the module from every kernel,
#          and xnatctl
#
# The packages come from $XNAT_CACHE/deb (make deb).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: package.sh OUTDIR lintian|install|rebuild|remove}
check=${2:?usage: package.sh OUTDIR lintian|install|rebuild|remove}
XNAT_CACHE=${XNAT_CACHE:-$HOME/.cache/xfrm-nat}
debs=$XNAT_CACHE/deb
export XNAT_ENV_OVERLAY=$out/overlay

fail() { echo "FAIL: $*"; exit 1; }
# in_root CMD...: CMD in the overlay of the Debian 13 root.
in_root() { "$top/scripts/debian-env.sh" run "$@"; }

root=$("$top/scripts/debian-env.sh" path)
krel=$(sed -n 's/^KREL=//p' "$root/etc/xnat-stock-kernel")
cloud=${krel%-amd64}-cloud-amd64
dkms_deb=$(ls "$debs"/xfrm-nat-dkms_*_all.deb 2>/dev/null | tail -n1)
ctl_deb=$(ls "$debs"/xnatctl_*_amd64.deb 2>/dev/null | tail -n1)
[ -n "$dkms_deb" ] && [ -n "$ctl_deb" ] || fail "no xfrm-nat-dkms or xnatctl .deb in $debs: run make deb"
version=$(dpkg-deb -f "$dkms_deb" Version)
upstream=${version%%-*}

# apt LOG ARG...: apt-get ARG... in the overlay, its output in OUTDIR/LOG
# and the end of it here; fails the check if apt does.
apt() {
	local log=$out/$1
	shift
	in_root sh -c 'DEBIAN_FRONTEND=noninteractive apt-get -y -q "$@" 2>&1' - "$@" |
		tee "$log" | tail -n 20
	[ "${PIPESTATUS[0]}" = 0 ] || fail "apt-get $* failed (log: $log)"
}

# dkms_installed KREL: dkms status says xfrm-nat is installed for KREL.
dkms_installed() {
	local state
	state=$(in_root dkms status -m xfrm-nat -k "$1" 2>&1)
	echo "dkms status: $state"
	grep -q "^xfrm-nat/$upstream, $1, x86_64: installed" <<<"$state" ||
		fail "dkms does not say xfrm-nat/$upstream is installed for $1"
}

case $check in
lintian)
	# --fail-on error,warning: an overridden tag is neither.
	in_root lintian --fail-on error,warning --info --display-info "$dkms_deb" "$ctl_deb" ||
		fail "lintian reports errors or warnings (above)"
	echo "ok: lintian accepts $(basename "$dkms_deb") and $(basename "$ctl_deb")"
	;;
install)
	rm -rf "$out/overlay" "$out/installed"
	mkdir -p "$out"
	apt apt-install.log install "$dkms_deb" "$ctl_deb"
	dkms_installed "$krel"
	path=$(in_root modinfo -k "$krel" -n xfrm_nat) || fail "modinfo -k $krel finds no xfrm_nat"
	case $path in /lib/modules/"$krel"/updates/dkms/xfrm_nat.ko*) ;; *) fail "xfrm_nat is at $path, not in updates/dkms" ;; esac
	vermagic=$(in_root modinfo -k "$krel" -F vermagic xfrm_nat)
	[ "${vermagic%% *}" = "$krel" ] || fail "the installed module's vermagic is '$vermagic'"
	in_root /usr/sbin/xnatctl --version | grep -q "$upstream" || fail "/usr/sbin/xnatctl --version is not $upstream"
	for f in /usr/lib/systemd/system/xfrm-nat.service /usr/lib/systemd/system/xfrm-nat-daemon.service /usr/share/man/man8/xnatctl.8.gz /etc/xfrm-nat.conf \
		/usr/share/bash-completion/completions/xnatctl; do
		in_root test -e "$f" || fail "the packages did not install $f"
	done
	touch "$out/installed"
	echo "ok: installed with apt; DKMS built $path for $krel"
	;;
rebuild)
	[ -f "$out/installed" ] || fail "the packages are not installed: run the install check first"
	# The .deb was fetched when the root was made: no network needed here.
	ls "$root"/opt/xnat/debs/linux-headers-"$cloud"_*.deb >/dev/null 2>&1 ||
		fail "no linux-headers-$cloud .deb in $root/opt/xnat/debs"
	start=$(date +%s)
	headers=("$root"/opt/xnat/debs/*.deb)
	apt apt-rebuild.log install "${headers[@]#"$root"}"
	dkms_installed "$cloud"
	# By path: with no image of that kernel there is no modules.dep, so
	# DKMS runs no depmod and modinfo cannot find the module by name.
	vermagic=$(in_root sh -c 'modinfo -F vermagic /lib/modules/$1/updates/dkms/xfrm_nat.ko*' - "$cloud")
	[ "${vermagic%% *}" = "$cloud" ] || fail "the module built for $cloud has vermagic '$vermagic'"
	in_root test -f "/usr/src/linux-headers-$cloud/rust/libkernel.rmeta" ||
		fail "DKMS built for $cloud without laying out its Rust metadata"
	echo "ok: $cloud's headers got xfrm_nat built by DKMS ($(($(date +%s) - start)) s, Rust metadata included)"
	;;
remove)
	[ -f "$out/installed" ] || fail "the packages are not installed: run the install check first"
	apt apt-remove.log purge xfrm-nat-dkms xnatctl
	left=$(in_root sh -c 'find /lib/modules -name "xfrm_nat.ko*"; dkms status -m xfrm-nat; ls /usr/sbin/xnatctl /usr/src/xfrm-nat-* 2>/dev/null' || true)
	[ -z "$left" ] || fail "after purge, still there: $left"
	echo "ok: purge removed the module from every kernel, DKMS's record and xnatctl"
	;;
*) fail "unknown check '$check'" ;;
esac
