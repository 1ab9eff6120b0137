#!/usr/bin/env bash
# Fetch Debian's linux-source-SERIES package from a Debian suite that this
# machine does not use (e.g. 7.3 from trixie-backports on bookworm), without
# touching the machine's apt configuration: a private sources list, lists and
# cache directories under $XNAT_CACHE, `apt-get download`, `dpkg -x`.
#
#   scripts/fetch-kernel-source.sh 7.3
#
# apt checks the suite's Release signature against Debian's archive keyring
# (bookworm's debian-archive-keyring carries the trixie keys) and the .deb's
# hash against the signed index, as for any package.  Nothing is installed.
# Cached: once the tarball is extracted, a rerun prints the paths and exits
# without network access.  Prints two lines on stdout:
#   TARBALL VERSION
# (the path of linux-source-SERIES.tar.xz, and the Debian package version).
set -euo pipefail

series=${1:?usage: $0 SERIES (e.g. 7.3)}
XNAT_CACHE=${XNAT_CACHE:-$HOME/.cache/xfrm-nat}
mirror=${XNAT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

log() { printf '[fetch] %s\n' "$*" >&2; }
die() { printf '[fetch] error: %s\n' "$*" >&2; exit 1; }

# Which suite serves which series (the newest one that has it).
case $series in
7.3) suite=trixie-backports ;;
*) die "unknown kernel series '$series' (known: 7.3)" ;;
esac

pkg=linux-source-$series
base=$XNAT_CACHE/debian/$suite
dest=$XNAT_CACHE/src/debian-$pkg
stamp=$dest/.xnat-fetched

if [ -f "$stamp" ]; then
	read -r tarball version <"$stamp"
	if [ -r "$tarball" ]; then
		log "cached: $pkg $version"
		echo "$tarball"
		echo "$version"
		exit 0
	fi
fi

[ -r "$keyring" ] || die "$keyring missing (package debian-archive-keyring)"
mkdir -p "$base/lists/partial" "$base/cache/archives/partial" "$base/etc/preferences.d" "$base/etc/apt.conf.d"
cat >"$base/sources.list" <<EOF
deb [signed-by=$keyring] $mirror $suite main
EOF

# Every path apt would read or write points into $base; the machine's own
# sources, preferences, lists, cache and dpkg state are not read or changed
# (dpkg's status file is only read).
aptopts=(
	-o "Dir::Etc::sourcelist=$base/sources.list"
	-o "Dir::Etc::sourceparts=-"
	-o "Dir::Etc::preferences=$base/etc/preferences"
	-o "Dir::Etc::preferencesparts=$base/etc/preferences.d"
	-o "Dir::Etc::parts=$base/etc/apt.conf.d"
	-o "Dir::State::Lists=$base/lists"
	-o "Dir::Cache=$base/cache"
	-o "Dir::Cache::pkgcache="
	-o "Dir::Cache::srcpkgcache="
	-o "APT::Get::List-Cleanup=0"
	-o "Acquire::Languages=none"
	-o "Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false"
	-o "APT::Architecture=amd64"
	-o "APT::Architectures=amd64"
	# The files live under root's home, which apt's _apt user cannot
	# write; say so rather than have apt warn and fall back to root.
	-o "APT::Sandbox::User=root"
)

log "updating the private index of $suite ($mirror)"
apt-get -q "${aptopts[@]}" update >&2 || die "apt-get update of $suite failed (network, or a bad signature)"

version=$(apt-cache "${aptopts[@]}" show "$pkg" 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -n1)
[ -n "$version" ] || die "$suite serves no $pkg"

work=$base/download
rm -rf "$work" && mkdir -p "$work"
log "downloading $pkg=$version"
(cd "$work" && apt-get -q "${aptopts[@]}" download "$pkg=$version" >&2) || die "apt-get download $pkg=$version failed"
deb=$(ls "$work"/*.deb)

log "unpacking $(basename "$deb")"
rm -rf "$dest" && mkdir -p "$dest"
dpkg -x "$deb" "$dest"
tarball=$(ls "$dest"/usr/src/linux-source-*.tar.xz 2>/dev/null | head -n1)
[ -n "$tarball" ] || die "$deb holds no /usr/src/linux-source-*.tar.xz"
rm -rf "$work"
echo "$tarball $version" >"$stamp"
echo "$tarball"
echo "$version"
