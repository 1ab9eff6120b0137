#!/usr/bin/env bash
# A mapping follows its policy: accepted while the policy does not exist
# (inactive), active once it appears, updated with it, inactive when it is
# deleted.  Requests that cannot work are refused with the reason, in the
# user's terms, and change nothing.
# timeout: 90
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

require_root
require_cmd ip
require_module
require_ctl

netns_create h
ctl() { run_in h "$XNAT_CTL" "$@"; }
state_is() { [ "$(field "$1" 'm["state"]')" = "$2" ]; }
field() { ctl -j show "spid=$1" | python3 -c 'import json,sys; m=json.load(sys.stdin)[0]; print(eval(sys.argv[1]))' "$2"; }
tmpl="tmpl src 200.2.2.2 dst 100.1.1.1 proto esp mode tunnel"

out=$(ctl show 2>&1) && fail "xnatctl worked without the module: $out"
assert_contains "$out" "module not loaded" "xnatctl without the module"
load_module

ctl map spid=305 to 10.20.30.2
assert_eq inactive "$(field 305 'm["state"]')" "state before the policy exists"

# shellcheck disable=SC2086
run_in h ip xfrm policy add src 10.20.30.2/32 dst 10.0.0.0/8 dir out index 305 $tmpl
wait_for 30 "state once the policy exists: active" state_is 305 active
assert_eq "10.0.0.0/8" "$(field 305 'm["selector"]["dst"]+"/"+str(m["selector"]["prefixlen_d"])')" "selector"

# shellcheck disable=SC2086
run_in h ip xfrm policy update src 10.20.30.2/32 dst 10.0.0.0/8 dir out index 305 priority 7 $tmpl
prio_is() { [ "$(field 305 'm["selector"]["priority"]')" = "$1" ]; }
wait_for 30 "priority 7 after the policy's update" prio_is 7

# The same index, now with a source selector that excludes the address.
run_in h ip xfrm policy delete src 10.20.30.2/32 dst 10.0.0.0/8 dir out
wait_for 30 "state after the policy's deletion: inactive" state_is 305 inactive
# shellcheck disable=SC2086
run_in h ip xfrm policy add src 10.20.31.0/24 dst 10.0.0.0/8 dir out index 305 $tmpl
# A negative: give the resync time to run, then look.
sleep 1
assert_eq inactive "$(field 305 'm["state"]')" "state with a selector that excludes the address"

before=$(ctl -j show)
out=$(ctl map spid=305 to 10.20.30.9 replace 2>&1) && fail "mapping outside the selector accepted: $out"
assert_contains "$out" "policy 305 selects src 10.20.31.0/24, not 10.20.30.9" "refusal of an address outside the selector"
out=$(ctl map spid=305 to 2001:db8::2 replace 2>&1) && fail "IPv6 address for an IPv4 policy accepted: $out"
assert_contains "$out" "policy 305 is IPv4, the address is IPv6" "refusal of a family mismatch"
out=$(ctl map spid=305 to 10.20.30.3 2>&1) && fail "second map of spid 305 accepted: $out"
assert_contains "$out" "already mapped" "refusal of a duplicate"
out=$(ctl map spid=304 to 10.20.30.3 2>&1) && fail "in-policy spid accepted: $out"
assert_contains "$out" "not an outbound policy" "refusal of an in spid"
out=$(ctl map spid=305 to 10.20.30.300 2>&1) && fail "bad address accepted: $out"
assert_contains "$out" "10.20.30.300" "refusal names the bad address"
out=$(ctl map spid=305 at 10.20.30.3 2>&1) && fail "unknown keyword accepted: $out"
assert_contains "$out" "unknown keyword 'at'" "refusal of an unknown keyword"
out=$(ctl unmap spid=321 2>&1) && fail "unmap of nothing succeeded: $out"
assert_contains "$out" "spid 321 is not mapped" "unmap of nothing"
assert_eq "$before" "$(ctl -j show)" "mappings after the refused requests"

# Replacing with an address the policy selects makes it active again.
ctl map spid=305 to 10.20.31.7 replace
assert_eq active "$(field 305 'm["state"]')" "state after replace"
assert_eq 10.20.31.7 "$(field 305 'm["addr"]')" "address after replace"
