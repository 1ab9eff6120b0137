#!/usr/bin/env bash
# The whole test run behind `make check` / `make check-debug`.
#
#   tests/check.sh [base|debug] [STAGE...]
#
# Stages, in order (default: all of the run's):
#
#   Linux 6.12 (KSERIES=6.12, the default), and any debug run: deps kernel
#   module cli uapi-check unsafe-check host-test vm-test, then for base only
#   install (the host checks of tests/install.sh against the test kernel).
#   The 6.12 test kernel is built by the project: Debian ships no 6.12 kernel
#   with Rust.
#
#   Linux 7.3 (KSERIES=7.3), base: Debian 13's own kernel, as it ships,
#   instead of a test kernel: deps env (the Debian 13 root of
#   scripts/debian-env.sh, and the Rust metadata its headers lack) module
#   (against those headers, with Debian's toolchain) symbols cli uapi-check
#   unsafe-check host-test vm-test (every test of tests/vm/, the stock image
#   booted with the root as the guest's), then package (make deb, lintian,
#   and apt install of the packages on an overlay of the root, as a user
#   does: DKMS builds the module, also for a second kernel's headers) and
#   vm-package (that root booted: tests/vm-installed/ and a few of tests/vm/ with
#   the packaged module, loaded by modprobe), and the packages' removal.
#   make check-debug KSERIES=7.3 still builds a 7.3 debug kernel.
#
# Each build step and each test is one TAP line, numbered across the run;
# host tests are cargo's individual tests; VM tests are those of tests/vm/
# run in boots of the kernel.  Ends with the plan and one line "N passed, N
# failed, N skipped"; exits 1 if anything failed.
#
# Environment: KDIR (build the module against, and boot, that tree instead of
# the test kernel), KSERIES (the test kernel's series, 6.12 or 7.3; see
# scripts/build-kernel.sh), T (VM tests to run, e.g. T="00-boot
# 01-module-load"), XNAT_RESULTS (where logs go; default
# $XNAT_CACHE/results/VARIANT, or VARIANT-7.3 for 7.3), XNAT_T0 (start time,
# for the elapsed line).
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
variant=${1:-base}
shift || true
case $variant in base | debug) ;; *) echo "usage: $0 [base|debug] [STAGE...]" >&2; exit 2 ;; esac
XNAT_CACHE=${XNAT_CACHE:-$HOME/.cache/xfrm-nat}
export KSERIES=${KSERIES:-6.12}
kdir=${KDIR:-}
# The stock kernel stands in for the 7.3 test kernels wherever no debug
# kernel is needed.
stock=
[ "$variant" != base ] || [ "$KSERIES" != 7.3 ] || [ -n "$kdir" ] || stock=1
if [ -n "$stock" ]; then
	all_stages=(deps env module symbols cli uapi-check unsafe-check host-test vm-test package vm-package)
else
	all_stages=(deps kernel module cli uapi-check unsafe-check host-test vm-test)
	[ "$variant" != base ] || all_stages+=(install)
fi
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=("${all_stages[@]}")
# What make deps installs: no 7.3 kernel build tools for the stock kernel.
deps_variant=$variant
[ -z "$stock" ] || deps_variant=stock
case $KSERIES in
6.12) out=${XNAT_RESULTS:-$XNAT_CACHE/results/$variant} ;;
*) out=${XNAT_RESULTS:-$XNAT_CACHE/results/$variant-$KSERIES} ;;
esac
t0=${XNAT_T0:-$(date +%s)}
crates=(module/logic tools/xnatctl)
# What the VM boots: the kernel tree, or "stock" (scripts/vm-run.sh -k).
vmkernel=

rm -rf "$out"
mkdir -p "$out"
tap=$out/check.tap
: >"$tap"

n=0 passed=0 failed=0 skipped=0
say() { printf '%s\n' "$*" | tee -a "$tap"; }

# result ok|fail|skip NAME [SKIP REASON]
result() {
	n=$((n + 1))
	case $1 in
	ok) passed=$((passed + 1)); say "ok $n - $2" ;;
	skip) skipped=$((skipped + 1)); say "ok $n - $2 # SKIP ${3:-}" ;;
	*) failed=$((failed + 1)); say "not ok $n - $2" ;;
	esac
}

# diag FILE [LINES]: the end of a log, as TAP comments.
diag() {
	say "# ---- last ${2:-40} lines of $1"
	tail -n "${2:-40}" "$1" | sed 's/^/#   /' | tee -a "$tap"
}

# step NAME CMD...: one build step, its output in $out/NAME.log; its TAP
# line says "$kind: NAME" (kind: build, unless the caller sets it).
kind=build
step() {
	local name=$1 log=$out/$1.log start rc=0
	shift
	start=$(date +%s)
	"$@" >"$log" 2>&1 </dev/null || rc=$?
	if [ "$rc" = 0 ]; then
		result ok "$kind: $name"
	else
		result fail "$kind: $name"
		say "# '$*' exited $rc"
		diag "$log"
	fi
	say "# $name: $(($(date +%s) - start)) s"
	return "$rc"
}

mk() { make --no-print-directory -s -C "$top" "$@"; }

# The kernel tree to build against and boot: KDIR if given, else the test
# kernel; for the stock kernel, its headers in the Debian 13 root.
need_kdir() {
	if [ -n "$stock" ]; then
		[ -n "$kdir" ] || stock_env >/dev/null 2>&1 || return 1
		return 0
	fi
	[ -z "$kdir" ] || { vmkernel=${vmkernel:-$kdir}; return 0; }
	kdir=$(mk kernel VARIANT="$variant" 2>/dev/null | tail -n1)
	vmkernel=$kdir
	[ -d "$kdir" ]
}

denv() { "$top/scripts/debian-env.sh" "$@"; }

# stock_env: the Debian 13 root (made on first use), and the stock kernel's
# headers in it, given the Rust metadata they lack (module/rust-meta.sh, the
# step DKMS runs too); sets kdir (a path inside the root) and vmkernel.
env_root= krel=
stock_env() {
	env_root=$(denv create | tail -n1) && [ -f "$env_root/etc/xnat-stock-kernel" ] || return 1
	krel=$(sed -n 's/^KREL=//p' "$env_root/etc/xnat-stock-kernel")
	echo "stock kernel: $krel ($(sed -n 's/^VERSION=//p' "$env_root/etc/xnat-stock-kernel"))"
	denv run "$top/module/rust-meta.sh" "/usr/src/linux-headers-$krel" || return 1
	kdir=/usr/src/linux-headers-$krel
	vmkernel=stock
}

stage_kernel() {
	if [ -n "$kdir" ]; then
		say "# kernel: using KDIR=$kdir"
		vmkernel=$kdir
		return
	fi
	step kernel mk kernel VARIANT="$variant" || return
	kdir=$(tail -n1 "$out/kernel.log")
	vmkernel=$kdir
	say "# kernel tree: $kdir"
}

stage_env() {
	step env stock_env || return
	say "# $(grep -m1 '^stock kernel' "$out/env.log"); headers at $kdir in $env_root"
}

# The module links against the stock vmlinux and its modules as they are.
stage_symbols() {
	need_kdir || { result fail "build: symbols"; say "# no Debian 13 root (the env step failed)"; return; }
	step symbols "$top/tests/symbols.sh" "$top/module/xfrm_nat.ko" "$env_root" "$krel" &&
		say "# $(tail -n1 "$out/symbols.log")"
}

stage_module() {
	need_kdir || { result fail "build: module"; say "# no kernel tree (the kernel or env step failed)"; return; }
	step module build_module
}
build_module() {
	if [ -n "$stock" ]; then
		# Debian's toolchain, in the Debian 13 root: the headers are there.
		denv run make --no-print-directory -s -C "$top" module KDIR="$kdir" || return
	else
		mk module KDIR="$kdir" || return
	fi
	[ -f "$top/module/xfrm_nat.ko" ] || { echo "make module did not produce module/xfrm_nat.ko"; return 1; }
}

# host_test CRATE: cargo test, one TAP line per test cargo ran.
host_test() {
	local crate=$1 log rc=0 start line name st nfail=0 ntests=0
	log=$out/host-test-${crate//\//-}.log
	start=$(date +%s)
	if ! [ -f "$top/$crate/Cargo.toml" ]; then
		result fail "host-test: $crate"
		say "# $crate/Cargo.toml does not exist"
		return
	fi
	cargo test --manifest-path "$top/$crate/Cargo.toml" >"$log" 2>&1 </dev/null || rc=$?
	while IFS= read -r line; do
		[[ $line =~ ^test\ (.+)\ \.\.\.\ (ok|FAILED|ignored)(,\ (.*))?$ ]] || continue
		name=${BASH_REMATCH[1]} st=${BASH_REMATCH[2]}
		ntests=$((ntests + 1))
		case $st in
		ok) result ok "host-test: $crate: $name" ;;
		ignored) result skip "host-test: $crate: $name" "${BASH_REMATCH[4]:-ignored}" ;;
		*) result fail "host-test: $crate: $name"; nfail=$((nfail + 1)) ;;
		esac
	done <"$log"
	if [ "$rc" != 0 ]; then
		# A build failure runs no test: it must count as a failure too.
		[ "$nfail" -gt 0 ] || result fail "host-test: $crate (cargo test exited $rc)"
		diag "$log" 60
	elif [ "$ntests" = 0 ]; then
		result fail "host-test: $crate (cargo test ran no test)"
		diag "$log" 20
	fi
	say "# host-test $crate: $(($(date +%s) - start)) s"
}

# The 6.12 test kernel's share of tests/vm/ in make check: every test runs
# on Debian 13's stock kernel, so that both series fit CI's time; 6.12 runs
# those that load, unload and tear the module down under traffic (where
# the code for 6.12 and 7.x differs: module/net/compat.rs, bh_lock.rs, the
# C shim's workqueue), one of each pending mode, the netlink contract, the
# key manager's reading of xfrm_state internals (62: larval states), the
# IKE daemons as Debian 12 ships them (strongSwan 5.9, libreswan 4.10),
# the IPv4 field cases of the packet path (the SPD asked as after NAT: socket
# policies, if_id, marks, precedence, conntrack entries, DNAT, routes, the
# tunnel's own route), inbound mappings in both families (65: the
# destination NAT that the secpath decides), a mapping's name moving to
# another reqid (70: two keys changed in one snapshot), explain in both
# families (71: its reading of the SPD and SAD, which it walks itself,
# against the packet path's verdicts), `xnatctl daemon` with Debian 12's
# strongSwan (72-daemon-vip: vici as strongSwan 5.9 speaks it; the other
# 72-daemon tests take 4-5 min under TCG, Debian 13's kernel runs them),
# and libreswan 4.10's updown hook driving a mapping by name (73, IPv4: the
# virtual IP of its mode config).
lts_vm_tests=(00-boot 01-module-load 10-howto-ipv4 10-howto-ipv6 12-fail-closed-ipv4
	16-ynl 17-unload-live 18-policy-lifecycle 20-sa-pending-ipv4 22-monitor 25-hold-ipv4
	27-hold-unload 30-rmmod-race 31-bindings-outlive-mapping-ipv4 33-namespace-limits
	34-save-restore 45-strongswan-restart-ipv4 47-libreswan-ipv4 49-netmap-subnet-ipv4
	52-reqid-follow-ipv4 54-ike-bypass-ipv4 55-xfrm-interface-ipv4 56-mark-policy-ipv4
	57-priority-unbound-ipv4 58-preexisting-flow-ipv4 59-dnat-ipv4 60-route-flush-ipv4
	62-acquire-expiry 63-acquire-after-ready-ipv4 64-nonblock-overflow-ipv4 65-inbound-ipv4
	65-inbound-ipv6 70-mapping-name-ipv4 71-explain-ipv4 71-explain-ipv6
	72-daemon-vip 73-libreswan-updown-ipv4)

stage_vm_test() {
	if ! need_kdir; then
		result fail "vm-test"
		say "# not run: no kernel tree (the kernel step failed)"
		return
	fi
	# The compatibility tests' sender programs are built on the host (the
	# guest shares its file system); a failure fails those tests, not all.
	step senders mk senders || true
	local tests=()
	if [ -n "${T:-}" ]; then
		# shellcheck disable=SC2206 # T is a list of test names
		tests=($T)
	elif [ "$KSERIES" = 6.12 ] && [ "$variant" = base ] && [ -z "${XNAT_VM_ALL:-}" ]; then
		tests=("${lts_vm_tests[@]}")
		say "# Linux 6.12: ${#tests[@]} of $(. "$top/tests/lib.sh" && vm_tests "$top"/tests/vm/*.sh | wc -l) VM tests (every one runs on Debian 13's kernel, KSERIES=7.3; XNAT_VM_ALL=1 runs all here)"
	fi
	vm_run "$vmkernel" "$out/vm" "" "${tests[@]}"
}

# vm_run KERNEL OUTDIR LABEL [TEST...]: one boot, one TAP line per test,
# named "vm: TEST" (or "vm (LABEL): TEST").
vm_run() {
	local kernel=$1 vmout=$2 label=${3:+ ($3)} start rc line name
	shift 3
	name=$(basename "$vmout")
	start=$(date +%s)
	"$top/scripts/vm-test.sh" "$kernel" "$vmout" "$@" 2>&1 </dev/null |
		tee "$out/$name-test.log" |
		grep --line-buffered -E '^\[vm(-run)?\]' | sed -u 's/^/# /'
	rc=${PIPESTATUS[0]}
	if ! [ -s "$vmout/vm.tap" ]; then
		result fail "vm$label"
		say "# the VM run produced no TAP (exit status $rc)"
		diag "$out/$name-test.log"
		return
	fi
	while IFS= read -r line; do
		if [[ $line =~ ^(not\ )?ok\ [0-9]+\ -\ ([^#]*[^#\ ])(\ #\ SKIP\ ?(.*))?$ ]]; then
			if [ -n "${BASH_REMATCH[1]}" ]; then
				result fail "vm$label: ${BASH_REMATCH[2]}"
			elif [ -n "${BASH_REMATCH[3]}" ]; then
				result skip "vm$label: ${BASH_REMATCH[2]}" "${BASH_REMATCH[4]}"
			else
				result ok "vm$label: ${BASH_REMATCH[2]}"
			fi
		elif [[ $line == '#'* || $line == '    '* ]]; then
			# comments, and a test's phases (an indented subtest)
			say "$line"
		fi
	done <"$vmout/vm.tap"
	say "# $name (boot and all tests): $(($(date +%s) - start)) s; logs in $vmout"
}

stage_install() {
	local c
	need_kdir || { result fail "install"; say "# not run: no kernel tree"; return; }
	kind=install
	for c in layout unit dkms uninstall; do
		step "$c" "$top/tests/install.sh" "$kdir" "$out/install" "$c" || [ "$c" != layout ] || break
	done
	kind=build
}

# The Debian packages: built and linted in the Debian 13 root, then
# installed with apt on an overlay of it (tests/package.sh), which the
# vm-package stage boots.
stage_package() {
	local c
	need_kdir || { result fail "package"; say "# not run: no Debian 13 root (the env step failed)"; return; }
	step deb mk deb || return
	kind=package
	for c in lintian install rebuild; do
		step "$c" "$top/tests/package.sh" "$out/package" "$c" || [ "$c" != install ] || break
	done
	kind=build
}

# Tests of tests/vm/ that also run with the packaged module: the reference scenario, both
# families, the pending and hold modes and save/restore, loaded by modprobe.
package_vm_tests=(10-howto-ipv4 10-howto-ipv6 20-sa-pending-ipv4 25-hold-ipv4 34-save-restore)

stage_vm_package() {
	local t list=()
	if ! [ -f "$out/package/installed" ]; then
		result fail "vm-package"
		say "# not run: the packages were not installed (package stage)"
		return
	fi
	for t in "$top"/tests/vm-installed/*.sh; do list+=("$t"); done
	for t in "${package_vm_tests[@]}"; do list+=("$top/tests/vm/$t.sh"); done
	XNAT_ENV_OVERLAY=$out/package/overlay XNAT_INSTALLED=package \
		vm_run stock "$out/vm-package" "packaged module" "${list[@]}"
	kind=package
	step remove "$top/tests/package.sh" "$out/package" remove
	kind=build
}

say "TAP version 13"
if [ -n "$stock" ]; then
	say "# xfrm-nat check (Debian 13's stock Linux $KSERIES kernel), logs in $out"
else
	say "# xfrm-nat check ($variant kernel${kdir:+ at $kdir}${kdir:-, Linux $KSERIES}), logs in $out"
fi
for s in "${stages[@]}"; do
	case $s in
	deps) step deps mk deps VARIANT="$deps_variant" || break ;; # nothing else can work without them
	kernel) stage_kernel ;;
	env) stage_env ;;
	symbols) stage_symbols ;;
	module) stage_module ;;
	cli) step cli mk cli ;;
	uapi-check) step uapi-check mk uapi-check ;;
	unsafe-check) step unsafe-check mk unsafe-check ;;
	host-test) for c in "${crates[@]}"; do host_test "$c"; done ;;
	vm-test) stage_vm_test ;;
	install) stage_install ;;
	package) stage_package ;;
	vm-package) stage_vm_package ;;
	*) result fail "unknown stage '$s'" ;;
	esac
done

say "1..$n"
say "# elapsed: $(($(date +%s) - t0)) s"
echo "$passed passed, $failed failed, $skipped skipped" | tee -a "$tap"
[ "$failed" = 0 ]
