#!/usr/bin/env bash
# Writes need CAP_NET_ADMIN over the namespace: an unprivileged user gets
# EPERM and nothing changes, while root of a user namespace may configure its
# own network namespace.  Mappings are per network namespace.
# timeout: 90
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

require_root
require_cmd ip setpriv unshare python3
require_module
require_ctl

netns_create a b
load_module
ctl() { run_in "$1" "$XNAT_CTL" "${@:2}"; }
nobody() { run_in "$1" setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all "$XNAT_CTL" "${@:2}"; }

ctl a map spid=305 to 10.20.30.2
ctl a map spid=313 to 2001:db8::2
before=$(ctl a -j show)

for cmd in "map spid=321 to 10.9.9.9" "map spid=305 to 10.9.9.9 replace" "unmap spid=305" "flush"; do
	# shellcheck disable=SC2086
	if out=$(nobody a $cmd 2>&1); then
		fail "'xnatctl $cmd' as nobody succeeded: $out"
	fi
	assert_contains "$out" "permission denied" "'xnatctl $cmd' as nobody"
done
assert_eq "$before" "$(ctl a -j show)" "mappings after the refused writes"
# Reading needs no privilege.
assert_contains "$(nobody a show)" "10.20.30.2" "show as nobody"

# The mappings of namespace a are invisible in b, and b's own are separate.
assert_eq "[]" "$(ctl b -j show)" "mappings seen from namespace b"
ctl b map spid=305 to 192.0.2.1
assert_contains "$(ctl b show)" "192.0.2.1" "b's own mapping"
assert_not_contains "$(ctl a show)" "192.0.2.1" "a does not see b's mapping"
assert_eq "$before" "$(ctl a -j show)" "a's mappings after b mapped the same spid"

# Root of a new user namespace owns the network namespace it creates.
out=$(unshare -Urn sh -c "'$XNAT_CTL' map spid=305 to 10.1.1.1 && '$XNAT_CTL' show" 2>&1) ||
	fail "map in an unprivileged user+net namespace failed: $out"
assert_contains "$out" "10.1.1.1" "mapping made by user-namespace root"
