# shellcheck shell=bash
# Helpers for the xfrm-nat VM tests (tests/vm/*.sh), kselftest style.
#
# Source it from a test:   . "$(dirname "$0")/../lib.sh"
# Sourcing defines functions and variables and an ERR trap that, under
# `set -e`, names the command that ended the test.  A test exits 0 on
# success, 1 (or any other non-zero) on failure, 4 (KSFT_SKIP) to skip.
#
# Environment:
#   XNAT_KO   the module to load    (default $REPO/module/xfrm_nat.ko)
#   XNAT_CTL  the CLI               (default $REPO/tools/xnatctl/target/release/xnatctl)
#   XNAT_INSTALL_ROOT
#             a `make install DESTDIR=` tree: the runner installs its module
#             into the guest's module tree (install_staged_module), and the
#             tests load it with modprobe and use its xnatctl
#   XNAT_INSTALLED
#             "package": the guest's root has the Debian packages installed
#             (xfrm-nat-dkms built the module with DKMS, xnatctl is in
#             /usr/sbin), as on a user's machine; the tests use those
#   XNAT_FAMILY
#             4 or 6, for a scenario file of both families (test_family)
#   XNAT_SUBTAP
#             where a test's phases report (phase), set by the runner

REPO=${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
XNAT_KO=${XNAT_KO:-$REPO/module/xfrm_nat.ko}
XNAT_CTL=${XNAT_CTL:-$REPO/tools/xnatctl/target/release/xnatctl}
XNAT_INSTALL_ROOT=${XNAT_INSTALL_ROOT:-}
XNAT_INSTALLED=${XNAT_INSTALLED:-}
if [ -n "$XNAT_INSTALL_ROOT" ]; then
	XNAT_CTL=$XNAT_INSTALL_ROOT/usr/local/sbin/xnatctl
elif [ "$XNAT_INSTALLED" = package ]; then
	XNAT_CTL=/usr/sbin/xnatctl
fi
# installed: the tests use an installed module (modprobe), not $XNAT_KO.
installed() { [ -n "$XNAT_INSTALL_ROOT" ] || [ -n "$XNAT_INSTALLED" ]; }
KSFT_FAIL=1
KSFT_SKIP=4

# ---------------------------------------------------------------- messages

log() { printf '# %s\n' "$*"; }

# fail MSG: print and exit 1 (cleanup runs from the EXIT trap).
fail() {
	printf 'FAIL: %s\n' "$*"
	local i
	for ((i = 1; i < ${#FUNCNAME[@]}; i++)); do
		printf '  at %s:%s (%s)\n' "${BASH_SOURCE[i]##*/}" "${BASH_LINENO[i-1]}" "${FUNCNAME[i]}"
	done
	exit "$KSFT_FAIL"
}

# skip REASON: the test cannot run here; the runner reports "# SKIP REASON".
skip() {
	printf 'SKIP: %s\n' "$*"
	exit "$KSFT_SKIP"
}

_xnat_err() {
	local rc=$?
	case $- in *e*) printf 'FAIL: command exited %s at %s:%s: %s\n' "$rc" "${BASH_SOURCE[1]##*/}" "${BASH_LINENO[0]}" "$BASH_COMMAND" ;; esac
}
set -E
trap _xnat_err ERR

# ---------------------------------------------------------------- assertions

# assert_eq EXPECTED ACTUAL [WHAT]
assert_eq() {
	[ "$1" = "$2" ] && return 0
	fail "${3:-value}: expected '$1', got '$2'"
}

# assert_ne UNEXPECTED ACTUAL [WHAT]
assert_ne() {
	[ "$1" != "$2" ] && return 0
	fail "${3:-value}: expected anything but '$1'"
}

# assert_contains HAYSTACK NEEDLE [WHAT]: fixed-string match.
assert_contains() {
	case $1 in *"$2"*) return 0 ;; esac
	fail "${3:-output} does not contain '$2'; got:
$1"
}

# assert_not_contains HAYSTACK NEEDLE [WHAT]
assert_not_contains() {
	case $1 in *"$2"*) fail "${3:-output} contains '$2'; got:
$1" ;; esac
	return 0
}

# assert_match HAYSTACK ERE [WHAT]: extended regex, any line.
assert_match() {
	grep -Eq -- "$2" <<<"$1" && return 0
	fail "${3:-output} does not match /$2/; got:
$1"
}

# assert_ok CMD...: the command succeeds; its output is shown if not.
assert_ok() {
	local out rc=0
	out=$("$@" 2>&1) || rc=$?
	[ "$rc" = 0 ] && return 0
	fail "'$*' exited $rc, expected 0; output:
$out"
}

# assert_fail CMD...: the command fails.
assert_fail() {
	local out rc=0
	out=$("$@" 2>&1) || rc=$?
	[ "$rc" != 0 ] && return 0
	fail "'$*' succeeded, expected failure; output:
$out"
}

# assert_ge MIN ACTUAL [WHAT], assert_le MAX ACTUAL [WHAT]: integers.
assert_ge() { [ "$2" -ge "$1" ] || fail "${3:-value}: expected >= $1, got $2"; }
assert_le() { [ "$2" -le "$1" ] || fail "${3:-value}: expected <= $1, got $2"; }

# fcalc EXPR: a float expression (python3), to 3 decimals.
fcalc() { python3 -c "print(f'{($1):.3f}')"; }

# assert_below LIMIT ACTUAL [WHAT]: floats, ACTUAL < LIMIT.
assert_below() {
	python3 -c "import sys; sys.exit(0 if float('$2') < float('$1') else 1)" ||
		fail "${3:-value}: expected < $1, got $2"
}

# assert_at_least MIN ACTUAL [WHAT]: floats, ACTUAL >= MIN.
assert_at_least() {
	python3 -c "import sys; sys.exit(0 if float('$2') >= float('$1') else 1)" ||
		fail "${3:-value}: expected >= $1, got $2"
}

# wait_for SECONDS WHAT CMD...: poll CMD every 0.1 s until it succeeds; fail
# naming WHAT once SECONDS (whole) have passed.  For conditions whose timing
# depends on the kernel's speed (the debug kernel under TCG is ten times
# slower).
wait_for() {
	local limit=$(($1 * ${XNAT_TIME_SCALE:-1})) what=$2 end
	shift 2
	# By the clock: a slow CMD (a python client under TCG) must not stretch
	# the limit.  EPOCHREALTIME in microseconds.
	end=$((${EPOCHREALTIME/./} + limit * 1000000))
	until "$@" >/dev/null 2>&1; do
		((${EPOCHREALTIME/./} < end)) || fail "timed out after $limit s waiting for: $what"
		sleep 0.1
	done
}

# ---------------------------------------------------------------- requirements

# The VM runs every test as root, and make deps installs every tool a test
# uses: a missing one is a broken install, a failure, never a skip.
require_root() { [ "$(id -u)" = 0 ] || fail "must run as root (the VM runs tests as root)"; }

# require_cmd CMD...: fail if a tool is missing.
require_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null || fail "'$c' not found on PATH ($PATH): make deps installs it; make doctor checks"
	done
}

# The module and the CLI are build products: their absence is a failure of
# the build, not a reason to skip.
require_module() {
	if installed; then
		modinfo -n xfrm_nat >/dev/null 2>&1 ||
			fail "xfrm_nat is not in the module tree of $(uname -r) (not installed, or install_staged_module did not run)"
		return
	fi
	[ -f "$XNAT_KO" ] || fail "module not found at $XNAT_KO (run 'make module', or set XNAT_KO)"
}
require_ctl() {
	[ -x "$XNAT_CTL" ] || fail "xnatctl not found at $XNAT_CTL (run 'make cli', or set XNAT_CTL)"
}

# ---------------------------------------------------------------- cleanup

# on_exit CMD: run CMD (a string for eval) when the test exits, last added first.
_xnat_exit_cmds=()
on_exit() {
	_xnat_exit_cmds=("$1" "${_xnat_exit_cmds[@]}")
	trap _xnat_run_exit EXIT
}
_xnat_run_exit() {
	local rc=$? c
	set +e
	case $rc in
	0) _xnat_phase_end ok ;;
	"$KSFT_SKIP") _xnat_phase_end skip ;;
	*) _xnat_phase_end "not ok" ;;
	esac
	for c in "${_xnat_exit_cmds[@]}"; do
		eval "$c" >/dev/null 2>&1
	done
	exit "$rc"
}

# tmpdir: make sure $XNAT_TMP, a per-test directory removed at exit, exists.
# Call it directly (not inside $(...): a subshell would lose it).
XNAT_TMP=
tmpdir() {
	[ -z "$XNAT_TMP" ] || return 0
	XNAT_TMP=$(mktemp -d /tmp/xnat-test.XXXXXX) || fail "mktemp"
	on_exit "rm -rf '$XNAT_TMP'"
}

# ---------------------------------------------------------------- module

module_loaded() { grep -q '^xfrm_nat ' /proc/modules; }

# load_module [PARAMS...]: insmod $XNAT_KO (modprobe xfrm_nat, when the
# module is installed); rmmod at exit.
load_module() {
	require_module
	module_loaded && fail "xfrm_nat is already loaded before the test loads it"
	local out
	if installed; then
		out=$(modprobe xfrm_nat "$@" 2>&1) || fail "modprobe xfrm_nat failed: $out"
	else
		# insmod resolves no dependencies: where conntrack and NAT are
		# modules (a distribution's kernel), load them first, as modprobe
		# would for an installed module.
		local dep
		for dep in $(modinfo -F depends "$XNAT_KO" | tr , ' '); do
			out=$(modprobe "$dep" 2>&1) || fail "modprobe $dep (a dependency of $XNAT_KO) failed: $out"
		done
		out=$(insmod "$XNAT_KO" "$@" 2>&1) || fail "insmod $XNAT_KO failed: $out"
	fi
	on_exit "grep -q '^xfrm_nat ' /proc/modules && rmmod xfrm_nat"
}

# install_staged_module: what `make install` followed by depmod does on a
# real machine, into the guest's module tree.  virtme-ng links
# /lib/modules/$(uname -r) (on a tmpfs) to the kernel tree's read-only
# module directory, so the link becomes a writable copy first.
install_staged_module() {
	local kver mods target staged
	kver=$(uname -r)
	mods=/lib/modules/$kver
	staged=$XNAT_INSTALL_ROOT/lib/modules/$kver/updates/xfrm_nat.ko
	[ -f "$staged" ] || fail "no installed module at $staged (make install DESTDIR=$XNAT_INSTALL_ROOT)"
	if [ -L "$mods" ]; then
		target=$(readlink -f "$mods")
		rm "$mods" && mkdir "$mods" && cp -a "$target"/. "$mods"/ || fail "cannot copy $target to $mods"
		# Its links to the modules are relative to where it was.
		local l
		while IFS= read -r l; do
			ln -sfn "$(readlink -f "$target/$l")" "$mods/$l" || fail "cannot relink $mods/$l"
		done < <(cd "$target" && find . -type l)
	fi
	install -D -m 0644 "$staged" "$mods/updates/xfrm_nat.ko" || fail "cannot install $staged"
	depmod -a "$kver" || fail "depmod -a $kver failed"
}

unload_module() {
	local out
	out=$(rmmod xfrm_nat 2>&1) || fail "rmmod xfrm_nat failed: $out"
}

# genl_families [NS]: the generic netlink family names, one a line.
genl_families() {
	if [ -n "${1:-}" ]; then
		ip netns exec "$1" genl ctrl list
	else
		genl ctrl list
	fi | awk '/^Name:/ { print $2 }'
}

# ---------------------------------------------------------------- namespaces

# netns_create NAME...: create namespaces with their loopback up; they are
# deleted when the test exits.  (The runner deletes all namespaces between
# tests, so plain names like "a", "router" are fine.)
netns_create() {
	local n
	for n in "$@"; do
		ip netns add "$n" || fail "ip netns add $n"
		on_exit "ip netns del '$n'"
		ip -n "$n" link set lo up
	done
}

# run_in NS CMD...: run a command inside a namespace.
run_in() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# veth_pair NS1 IF1 ADDR1 NS2 IF2 ADDR2: a veth pair between two namespaces,
# addresses with prefix (e.g. 10.0.1.1/24, may be empty), both ends up.
veth_pair() {
	local ns1=$1 if1=$2 a1=$3 ns2=$4 if2=$5 a2=$6
	ip link add "$if1" netns "$ns1" type veth peer name "$if2" netns "$ns2" ||
		fail "veth $ns1/$if1 <-> $ns2/$if2"
	[ -z "$a1" ] || _xnat_addr_add "$ns1" "$if1" "$a1"
	[ -z "$a2" ] || _xnat_addr_add "$ns2" "$if2" "$a2"
	ip -n "$ns1" link set "$if1" up
	ip -n "$ns2" link set "$if2" up
}

# _xnat_addr_add NS IFACE ADDR: IPv6 addresses skip duplicate address
# detection, so that they are usable at once.
_xnat_addr_add() {
	case $3 in
	*:*) ip -n "$1" addr add "$3" dev "$2" nodad ;;
	*) ip -n "$1" addr add "$3" dev "$2" ;;
	esac || fail "ip -n $1 addr add $3 dev $2"
}

# forwarding NS: make a namespace a router.
forwarding() {
	run_in "$1" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
}

# ping_ok NS DEST [COUNT]: assert that DEST answers from NS.
ping_ok() {
	local out
	out=$(run_in "$1" ping -n -q -c "${3:-1}" -W 2 "$2" 2>&1) ||
		fail "ping $2 from $1 failed: $out"
}

# ---------------------------------------------------------------- packet capture

# capture_start NS IFACE NAME [FILTER]: tcpdump on IFACE in NS into
# $XNAT_TMP/NAME.pcap; returns once tcpdump is listening.
declare -gA _xnat_cap_pid=()
capture_start() {
	local ns=$1 ifc=$2 name=$3 filter=${4:-} dir i
	tmpdir
	dir=$XNAT_TMP
	# shellcheck disable=SC2086
	run_in "$ns" tcpdump -Z root -U --immediate-mode -n -i "$ifc" -w "$dir/$name.pcap" $filter \
		2>"$dir/$name.tcpdump.log" &
	_xnat_cap_pid[$name]=$!
	on_exit "kill ${_xnat_cap_pid[$name]}"
	for ((i = 0; i < 100; i++)); do
		grep -q 'listening on' "$dir/$name.tcpdump.log" 2>/dev/null && return 0
		kill -0 "${_xnat_cap_pid[$name]}" 2>/dev/null ||
			fail "tcpdump $name exited: $(cat "$dir/$name.tcpdump.log")"
		sleep 0.1
	done
	fail "tcpdump $name did not start listening within 10 s"
}

# capture_stop NAME: stop the capture, the pcap is complete afterwards.
capture_stop() {
	local pid=${_xnat_cap_pid[$1]:-}
	[ -n "$pid" ] || fail "capture_stop: no capture named $1"
	sleep 0.2 # let the last packets reach tcpdump
	# TERM, not INT: background jobs of a script start with SIGINT ignored.
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || true
	unset "_xnat_cap_pid[$1]"
}

# capture_count NAME [FILTER]: number of packets in NAME's pcap that match a
# pcap-filter expression (all packets without one).
capture_count() {
	local name=$1
	shift
	tcpdump -n -r "$XNAT_TMP/$name.pcap" "$@" 2>/dev/null | wc -l
}

# capture_show NAME [FILTER]: print the decoded packets (for failure messages).
capture_show() {
	local name=$1
	shift
	tcpdump -n -r "$XNAT_TMP/$name.pcap" "$@" 2>/dev/null
}

# ---------------------------------------------------------------- runner support

# test_timeout TEST [DEFAULT]: the "# timeout: N" of a test's file, else
# DEFAULT.  TEST as for vm_test_source.
test_timeout() {
	local t
	vm_test_source "$1"
	t=$(sed -n 's/^# *timeout: *\([0-9][0-9]*\) *$/\1/p' "$VM_TEST_FILE" 2>/dev/null | head -n1)
	echo "${t:-${2:-120}}"
}

# A scenario that runs alike over IPv4 and IPv6 is one file, DIR/NAME.sh,
# with a "# families: 4 6" line; it stands for two tests, DIR/NAME-ipv4.sh
# and DIR/NAME-ipv6.sh, each with its own TAP line and its own name for T=,
# that run the file with XNAT_FAMILY set (test_family).

# test_families FILE: the families a test file names, or nothing.
test_families() {
	sed -n 's/^# *families: *\([46 ]*\)$/\1/p' "$1" 2>/dev/null | head -n1
}

# vm_tests PATH...: the tests the PATHs stand for, one a line: a scenario
# file with a families line stands for one test per family, a test name of
# such a file (which does not exist as a file) or any other file for itself.
vm_tests() {
	local t f
	for t in "$@"; do
		f=
		[ ! -e "$t" ] || f=$(test_families "$t")
		if [ -z "$f" ]; then
			echo "$t"
			continue
		fi
		for f in $f; do echo "${t%.sh}-ipv$f.sh"; done
	done
}

# vm_test_source TEST: sets VM_TEST_FILE to the file that runs TEST (a path
# as vm_tests prints them) and VM_TEST_FAMILY to the family it runs with,
# empty for a test that is a file of its own.
vm_test_source() {
	local t=$1 f
	VM_TEST_FILE=$t VM_TEST_FAMILY=
	[ ! -e "$t" ] || return 0
	case $t in *-ipv4.sh | *-ipv6.sh) ;; *) return 0 ;; esac
	f=${t%.sh}
	f=${f##*-ipv}
	case " $(test_families "${t%-ipv?.sh}.sh") " in
	*" $f "*) VM_TEST_FILE=${t%-ipv?.sh}.sh VM_TEST_FAMILY=$f ;;
	esac
}

# test_family: the address family a scenario file runs for (4 or 6).
test_family() {
	case ${XNAT_FAMILY:-} in
	4 | 6) echo "$XNAT_FAMILY" ;;
	*) fail "no address family: run NAME-ipv4 or NAME-ipv6 through tests/run-in-guest.sh, or set XNAT_FAMILY=4 or 6" ;;
	esac
}

# A test may be split into phases, each with a TAP line of its own (in
# vm.tap, a subtest of the test's line).  The runner names the file the
# lines go to in XNAT_SUBTAP; without it, phases are only logged.
_xnat_phase= _xnat_phases=0

# phase TITLE: what follows, up to the next phase or the end of the test, is
# the phase TITLE; the one before it passed.
phase() {
	_xnat_phase_end ok
	_xnat_phase=$1
	log "$1"
	trap _xnat_run_exit EXIT
	# The runner's timeout ends a test with SIGTERM: the phase it cut short
	# then reports as failed.
	trap 'exit 143' TERM
}

# _xnat_phase_end RESULT: reports the current phase, if any, as RESULT (ok,
# "not ok" or skip).
_xnat_phase_end() {
	[ -n "$_xnat_phase" ] || return 0
	_xnat_phases=$((_xnat_phases + 1))
	if [ -n "${XNAT_SUBTAP:-}" ]; then
		case $1 in
		skip) echo "ok $_xnat_phases - $_xnat_phase # SKIP" ;;
		*) echo "$1 $_xnat_phases - $_xnat_phase" ;;
		esac >>"$XNAT_SUBTAP"
	fi
	_xnat_phase=
}
