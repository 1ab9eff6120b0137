#!/usr/bin/env bash
# On a kernel that builds conntrack, NAT and IPsec as modules (Debian 13's
# stock kernel), with xfrm_nat installed (by `make install`, or by the Debian
# packages and DKMS): modprobe pulls in
# its dependencies, and the first xnatctl request loads the module through
# its generic netlink family alias, in the initial namespace and in another.
# Runs first after boot: nothing has loaded conntrack or NAT yet.
# timeout: 120
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

require_root
require_cmd modprobe modinfo genl ip python3
installed || fail "neither XNAT_INSTALL_ROOT nor XNAT_INSTALLED is set: this test checks an installed module"
require_module
require_ctl

loaded() { grep -q "^$1 " /proc/modules; }
families() { genl ctrl list | awk '/^Name:/ { print $2 }'; }

case $(modinfo -n nf_nat 2>&1) in
*.ko*) ;;
*) fail "nf_nat is not a module on this kernel ($(modinfo -n nf_nat 2>&1)): boot a distribution's kernel" ;;
esac
for m in xfrm_nat nf_nat nf_conntrack; do
	! loaded "$m" || fail "$m is loaded before the test (the test must run first after boot)"
done

# make install puts it in updates/, DKMS in updates/dkms/ (compressed as the
# kernel's own modules are).
path=$(modinfo -n xfrm_nat)
assert_match "${path#/lib/modules/"$(uname -r)"/}" '^updates/(dkms/)?xfrm_nat\.ko(\.xz|\.zst|\.gz)?$' "where modinfo finds the installed module"
assert_contains "$(modinfo -F alias xfrm_nat)" "net-pf-16-proto-16-family-xfrm_nat" "the module's aliases"
deps=$(modinfo -F depends xfrm_nat)
for m in nf_nat nf_conntrack; do
	assert_contains ",$deps," ",$m," "the module's dependencies ($deps)"
done

log "modprobe xfrm_nat loads its dependencies"
out=$(modprobe xfrm_nat 2>&1) || fail "modprobe xfrm_nat: $out"
on_exit "modprobe -r xfrm_nat"
for m in nf_conntrack nf_nat xfrm_nat; do
	loaded "$m" || fail "$m is not loaded after modprobe xfrm_nat"
done
assert_contains "$(families)" "xfrm_nat" "generic netlink families after modprobe"
# An out-of-tree module, signed by no key the kernel trusts (Debian's kernel
# checks signatures without enforcing them): it loads, and taints the
# kernel with O (4096) and E (8192), as Documentation/xfrm_nat.rst says.
tainted=$(cat /proc/sys/kernel/tainted)
log "kernel taint after loading: $tainted; signer: $(modinfo -F signer xfrm_nat || true)"
[ $((tainted & 4096)) != 0 ] || fail "taint $tainted lacks O (out-of-tree module)"
if grep -qx 'CONFIG_MODULE_SIG=y' "/boot/config-$(uname -r)" 2>/dev/null; then
	[ $((tainted & 8192)) != 0 ] || fail "taint $tainted lacks E (unsigned module) on a kernel that checks signatures"
fi
out=$(modprobe -r xfrm_nat 2>&1) || fail "modprobe -r xfrm_nat: $out"
! loaded xfrm_nat || fail "xfrm_nat is still loaded after modprobe -r"

log "the first request loads the module (family alias)"
out=$("$XNAT_CTL" map spid=305 to 10.20.30.2 2>&1) ||
	fail "xnatctl map with the module not loaded: $out"
loaded xfrm_nat || fail "xfrm_nat is not loaded after the first request"
assert_eq "map spid=305 to 10.20.30.2 pending eagain" "$("$XNAT_CTL" save | grep -v '^#')" "the mappings after the first request"
out=$("$XNAT_CTL" flush 2>&1) || fail "xnatctl flush: $out"
out=$(rmmod xfrm_nat 2>&1) || fail "rmmod xfrm_nat: $out"

log "the same from another namespace"
netns_create other
out=$(run_in other "$XNAT_CTL" map spid=9 to 192.0.2.9 2>&1) ||
	fail "xnatctl map in namespace 'other' with the module not loaded: $out"
loaded xfrm_nat || fail "xfrm_nat is not loaded after a request from namespace 'other'"
assert_eq 1 "$(run_in other "$XNAT_CTL" -j show | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" "mappings in namespace 'other'"
assert_eq 0 "$("$XNAT_CTL" -j show | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" "mappings in the initial namespace"
