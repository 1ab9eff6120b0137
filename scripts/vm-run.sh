#!/usr/bin/env bash
# Boot the test kernel under QEMU (virtme-ng, TCG) and run one command in it.
#
#   scripts/vm-run.sh [-k KERNEL] [-o DIR] [-w DIR] [-t SECONDS] [--] CMD [ARG...]
#
#   -k KERNEL   a kernel build tree or a bzImage (default: the base test
#               kernel, built or reused by scripts/build-kernel.sh), or
#               "stock": Debian 13's own kernel image, booted as shipped,
#               with its modules and the Debian 13 root of
#               scripts/debian-env.sh as the guest's root
#   -o DIR      a host directory the guest may write to (same path inside);
#               also where output.log (CMD's output) and console.log (the
#               kernel console) go (default: a new temp dir)
#   -w DIR      one more host directory the guest may write to, which
#               other guests may share (the work queue of scripts/vm-test.sh)
#   -t SECONDS  give up and kill the VM after this long (default 600)
#
# XNAT_VM_MEMORY and XNAT_VM_CPUS size the VM (2G, 2); XNAT_VM_QEMU_OPTS
# adds QEMU options.
#
# The guest sees the host's root read-only (with throw-away overlays on /etc,
# /tmp, /var, ...), so the repository and anything built in it are visible at
# the same paths.  With -k stock, it sees the Debian 13 root instead, with
# the repository, $XNAT_CACHE and the -o/-w directories at their host paths;
# QEMU and virtme-ng are then Debian 13's, run in that root.  CMD runs as
# root in the repository, with XNAT_KO, XNAT_CTL, XNAT_INSTALL_ROOT,
# XNAT_INSTALLED, XNAT_KSRC and KSERIES passed through when set.  Exits with
# CMD's exit status, or 124 when the VM had to be killed.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
kernel='' outdir='' shared='' limit=600
while getopts 'k:o:w:t:' opt; do
	case $opt in
	k) kernel=$OPTARG ;;
	o) outdir=$OPTARG ;;
	w) shared=$(cd "$OPTARG" && pwd) ;;
	t) limit=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ "${1:-}" != -- ] || shift
[ $# -gt 0 ] || { echo "usage: $0 [-k KERNEL] [-o DIR] [-w DIR] [-t SECONDS] [--] CMD [ARG...]" >&2; exit 2; }

log() { printf '[vm-run] %s\n' "$*" >&2; }
die() { printf '[vm-run] error: %s\n' "$*" >&2; exit 2; }

if [ "$kernel" = stock ]; then
	# Debian 13's kernel as it ships: virtme-ng boots it from the root
	# that holds its modules, and that root is the guest's.
	env_root=$("$top/scripts/debian-env.sh" create) || die "no Debian 13 root (scripts/debian-env.sh)"
	krel=$(sed -n 's/^KREL=//p' "$env_root/etc/xnat-stock-kernel")
	image=/boot/vmlinuz-$krel
	[ -f "$env_root$image" ] || die "no stock kernel image at $env_root$image"
	[ -x "$env_root/usr/bin/vng" ] || die "virtme-ng is missing from $env_root"
	vng=("$top/scripts/debian-env.sh" run vng)
	# The guest's tools (libreswan, the kernel's ynl) are those of the root.
	export XNAT_TOOLS=/opt/xnat XNAT_KSRC=/opt/xnat/linux-source
else
	# vng and the virtme-* programs it starts by name must be the project's
	# own (scripts/install-deps.sh), never a copy some other install left
	# on PATH.
	tools_bin=${XNAT_TOOLS:-${XNAT_CACHE:-$HOME/.cache/xfrm-nat}}/bin
	# The guest finds the tools there too (libreswan's pluto, tests/libreswan.sh).
	export XNAT_TOOLS=${tools_bin%/bin}
	PATH=$tools_bin:$PATH
	for p in vng virtme-run; do
		[ "$(command -v "$p")" = "$tools_bin/$p" ] ||
			die "$p not found in $tools_bin (found: $(command -v "$p" || echo nothing)): run make deps"
	done
	vng=(vng)
	[ -n "$kernel" ] || kernel=$("$top/scripts/build-kernel.sh" base | tail -n1)
	if [ -d "$kernel" ]; then
		image=$kernel/arch/x86/boot/bzImage
	else
		image=$kernel
	fi
	[ -f "$image" ] || die "no kernel image at $image"
fi

if [ -z "$outdir" ]; then
	outdir=$(mktemp -d /tmp/xnat-vm.XXXXXX)
fi
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

# The command goes through a file: no quoting rules of the guest's shell.
script=$outdir/guest-cmd.sh
{
	echo "cd $(printf %q "$top")"
	for v in XNAT_KO XNAT_CTL XNAT_INSTALL_ROOT XNAT_INSTALLED XNAT_KSRC XNAT_KMEMLEAK_AGE XNAT_TIME_SCALE XNAT_TOOLS KSERIES V; do
		[ -z "${!v:-}" ] || echo "export $v=$(printf %q "${!v}")"
	done
	printf 'exec'
	printf ' %q' "$@"
	echo ' 2>&1' # vng sends the guest's stderr where the kernel console goes
} >"$script"

vng_args=(
	--run "$image"
	--user root
	--disable-kvm     # TCG: QEMU 7.2 + KVM fail on this kind of machine
	--force-9p        # the host's virtiofsd is too old for vng
	--memory "${XNAT_VM_MEMORY:-2G}"
	--cpus "${XNAT_VM_CPUS:-2}" # SMP kernel: exercise cross-CPU races
	--cwd "$top"
	--rwdir "$outdir"
	${shared:+--rwdir "$shared"}
	--verbose         # the kernel console, to stderr: panics land in console.log
	--exec "bash $script"
)
# vng 1.42 on the host's root finds it only when told (Debian 13's needs not).
[ "$kernel" = stock ] || vng_args+=(--append "root=/dev/root")
# The root of a stock boot sees these directories only when bound into it.
# An overlay of the root (the packages' tests) is only read: the guest
# writes to virtme-ng's tmpfs overlays, and guests boot it side by side.
if [ "$kernel" = stock ]; then
	export XNAT_ENV_BIND="$outdir${shared:+ $shared}"
	[ -z "${XNAT_ENV_OVERLAY:-}" ] || export XNAT_ENV_OVERLAY_RO=1
fi
# More QEMU options, e.g. the TCG plugin of make bench-insns.
[ -z "${XNAT_VM_QEMU_OPTS:-}" ] || vng_args+=(--qemu-opts="$XNAT_VM_QEMU_OPTS")

log "booting $image (TCG, limit ${limit} s)"
start=$(date +%s)
# --foreground is not used, so timeout signals QEMU too (same process group).
set +e
timeout -k 15 "$limit" "${vng[@]}" "${vng_args[@]}" </dev/null 2>"$outdir/console.log" | tee "$outdir/output.log"
rc=${PIPESTATUS[0]}
set -e
secs=$(($(date +%s) - start))
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	log "the VM did not finish within $limit s and was killed (hung guest or test?)"
	log "last lines of the console ($outdir/console.log):"
	tail -n 40 "$outdir/console.log" | sed 's/^/    /' >&2
	exit 124
fi
log "VM exited with status $rc after ${secs} s"
exit "$rc"
