#!/usr/bin/env bash
# Host checks of what `make install` lays out, against a kernel tree (the
# 6.12 test kernel; Debian 13's stock kernel is checked through the Debian
# packages, tests/package.sh).
#
#   tests/install.sh KDIR OUTDIR layout|unit|dkms|uninstall
#
# layout     make install DESTDIR=OUTDIR/stage lays out exactly the expected
#            files, a second install keeps an edited /etc/xfrm-nat.conf
#            (tests/vm-installed/ can boot with OUTDIR/stage: XNAT_INSTALL_ROOT)
# unit       systemd-analyze verify accepts the installed unit, with its
#            ExecStart= binaries and man page found in the stage
# dkms       Debian's dkms adds and builds the DKMS source tree against KDIR,
#            with its trees in OUTDIR/dkms (nothing under /var/lib/dkms)
# uninstall  make uninstall removes everything but the operator's config
#
# The module is built from a copy of module/ (OUTDIR/src), so that the
# checkout's own build against the test kernel stays as it is.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
kdir=${1:?usage: install.sh KDIR OUTDIR CHECK}
out=${2:?usage: install.sh KDIR OUTDIR CHECK}
check=${3:?usage: install.sh KDIR OUTDIR CHECK}
stage=$out/stage
kver=$(cat "$kdir/include/config/kernel.release")
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$top/tools/xnatctl/Cargo.toml" | head -n1)

fail() { echo "FAIL: $*"; exit 1; }
mk() { make --no-print-directory -C "$top" "$@"; }

# The files an install lays out, relative to DESTDIR, besides depmod's.
expected() {
	cat <<-LIST
	etc/xfrm-nat.conf
	lib/modules/$kver/updates/xfrm_nat.ko
	usr/local/lib/systemd/system/xfrm-nat-daemon.service
	usr/local/lib/systemd/system/xfrm-nat.service
	usr/local/sbin/xnatctl
	usr/local/share/bash-completion/completions/xnatctl
	usr/local/share/doc/xfrm-nat/examples/ipsec.conf
	usr/local/share/doc/xfrm-nat/examples/swanctl.conf
	usr/local/share/doc/xfrm-nat/examples/xfrm-nat.d/libreswan.conf
	usr/local/share/doc/xfrm-nat/examples/xfrm-nat.d/strongswan.conf
	usr/local/share/doc/xfrm-nat/modules-load.d-xfrm-nat.conf
	usr/local/share/doc/xfrm-nat/xfrm-nat.conf.example
	usr/local/share/doc/xfrm-nat/xfrm_nat.rst
	usr/local/share/fish/vendor_completions.d/xnatctl.fish
	usr/local/share/man/man8/xnatctl.8
	usr/local/share/zsh/site-functions/_xnatctl
	LIST
}

# files DIR: the files under DIR, minus depmod's indexes.
files() {
	(cd "$1" && find . -type f | sed 's|^\./||' | grep -v "^lib/modules/$kver/modules\." | sort)
}


case $check in
layout)
	rm -rf "$stage"
	# module/ without its build products, as DKMS gets it.
	mk dkms-source DESTDIR="$out" DKMS_SRC=/src >/dev/null
	mk install KDIR="$kdir" DESTDIR="$stage" MODULE_SRC="$out/src"
	diff -u <(expected) <(files "$stage") || fail "make install laid out other files than expected (diff above)"
	ko=$stage/lib/modules/$kver/updates/xfrm_nat.ko
	vermagic=$(modinfo -F vermagic "$ko")
	[ "${vermagic%% *}" = "$kver" ] || fail "installed module's vermagic '$vermagic' is not for $kver"
	modinfo -F alias "$ko" | grep -qx 'net-pf-16-proto-16-family-xfrm_nat' || fail "installed module lacks the family alias"
	unit=$stage/usr/local/lib/systemd/system/xfrm-nat.service
	! grep -n '@[A-Z]*@' "$unit" "${unit%.service}-daemon.service" || fail "placeholders left in a unit"
	grep -qx 'ExecStart=/usr/local/sbin/xnatctl daemon --config-dir /etc/xfrm-nat.d' \
		"${unit%.service}-daemon.service" || fail "daemon unit's ExecStart"
	grep -qx 'ExecStart=/usr/local/sbin/xnatctl restore /etc/xfrm-nat.conf' "$unit" || fail "unit's ExecStart"
	"$stage/usr/local/sbin/xnatctl" --version | grep -q "$version" || fail "installed xnatctl --version"
	for f in bash-completion/completions/xnatctl zsh/site-functions/_xnatctl fish/vendor_completions.d/xnatctl.fish; do
		grep -q restore "$stage/usr/local/share/$f" || fail "completion $f does not know 'restore'"
	done
	# An operator's config survives a reinstall.
	echo "map spid=7 to 192.0.2.7" >>"$stage/etc/xfrm-nat.conf"
	mk install-tools DESTDIR="$stage" >/dev/null
	grep -qx "map spid=7 to 192.0.2.7" "$stage/etc/xfrm-nat.conf" || fail "a reinstall overwrote /etc/xfrm-nat.conf"
	sed -i '$d' "$stage/etc/xfrm-nat.conf"
	echo "ok: $(expected | wc -l) files for $kver in $stage"
	;;
unit)
	[ -d "$stage" ] || fail "no stage: run the layout check first"
	tmp=$out/unit && rm -rf "$tmp" && mkdir -p "$tmp"
	# verify checks that ExecStart= binaries exist and that the
	# Documentation= man page opens: point both at the stage.
	for unit in xfrm-nat xfrm-nat-daemon; do
		sed "s|/usr/local/sbin/|$stage/usr/local/sbin/|g" \
			"$stage/usr/local/lib/systemd/system/$unit.service" >"$tmp/$unit.service"
	done
	MANPATH=$stage/usr/local/share/man: systemd-analyze verify "$tmp/xfrm-nat.service" \
		"$tmp/xfrm-nat-daemon.service" 2>&1 | tee "$tmp/verify.log"
	[ "${PIPESTATUS[0]}" = 0 ] || fail "systemd-analyze verify failed"
	[ ! -s "$tmp/verify.log" ] || fail "systemd-analyze verify complained (above)"
	echo "ok: systemd-analyze verify"
	;;
dkms)
	tmp=$out/dkms && rm -rf "$tmp" && mkdir -p "$tmp/tree"
	mk dkms-source DESTDIR="$tmp/root" >/dev/null
	srctree=$tmp/root/usr/src
	opts=(--dkmstree "$tmp/tree" --sourcetree "$srctree")
	dkms add -m xfrm-nat -v "$version" "${opts[@]}"
	dkms build -m xfrm-nat -v "$version" -k "$kver" --kernelsourcedir "$kdir" "${opts[@]}" ||
		{ cat "$tmp/tree/xfrm-nat/$version/build/make.log" 2>/dev/null | tail -n 40; fail "dkms build"; }
	ko=$(find "$tmp/tree/xfrm-nat/$version/$kver" -name 'xfrm_nat.ko*' | head -n1)
	[ -n "$ko" ] || fail "dkms build produced no xfrm_nat.ko"
	vermagic=$(modinfo -F vermagic "$ko")
	[ "${vermagic%% *}" = "$kver" ] || fail "the DKMS module's vermagic '$vermagic' is not for $kver"
	dkms status -m xfrm-nat "${opts[@]}" | tee "$tmp/status"
	grep -q "xfrm-nat/$version, $kver, .*: built" "$tmp/status" || fail "dkms status does not say built"
	echo "ok: dkms built $ko"
	;;
uninstall)
	[ -d "$stage" ] || fail "no stage: run the layout check first"
	tmp=$out/uninstall && rm -rf "$tmp" && cp -a "$stage" "$tmp"
	mk uninstall DESTDIR="$tmp" KDIR="$kdir"
	left=$(files "$tmp")
	[ "$left" = etc/xfrm-nat.conf ] || fail "make uninstall left: $left"
	echo "ok: only the operator's etc/xfrm-nat.conf is left"
	;;
*) fail "unknown check '$check'" ;;
esac
