#!/usr/bin/env bash
# `xnatctl monitor` prints the family's events as they happen: a mapping
# made, activated and deactivated as its policy comes and goes, and deleted.
# timeout: 120
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

require_root
require_cmd ip
require_module
require_ctl

netns_create m
load_module
tmpdir
ctl() { run_in m "$XNAT_CTL" "$@"; }
run_in m "$XNAT_CTL" monitor >"$XNAT_TMP/monitor.txt" 2>&1 &
on_exit "kill $!"

# Until the monitor has joined the group, events are not seen: poke it.
poke() { ctl map spid=9 to 192.0.2.9 && ctl unmap spid=9 && grep -q "unmap spid 9" "$XNAT_TMP/monitor.txt"; }
wait_for 60 "the monitor to see events" poke
seen() { grep -qxF "$1" "$XNAT_TMP/monitor.txt"; }
tmpl="tmpl src 200.2.2.2 dst 100.1.1.1 proto esp mode tunnel"

ctl map spid=305 to 10.20.30.2 pending drop
wait_for 30 "the new mapping's event" seen "map spid 305 to 10.20.30.2 inactive pending drop reason \"no out policy with index 305\""
# shellcheck disable=SC2086
run_in m ip xfrm policy add src 10.20.30.2/32 dst 10.0.0.0/8 dir out index 305 $tmpl
wait_for 30 "the activation event" \
	seen "map spid 305 to 10.20.30.2 active policies 305 pending drop selector 10.20.30.2/32 -> 10.0.0.0/8 proto any"
run_in m ip xfrm policy delete src 10.20.30.2/32 dst 10.0.0.0/8 dir out
wait_for 30 "the deactivation event" seen "map spid 305 to 10.20.30.2 inactive pending drop reason \"no out policy with index 305\""
assert_eq 2 "$(grep -cxF 'map spid 305 to 10.20.30.2 inactive pending drop reason "no out policy with index 305"' "$XNAT_TMP/monitor.txt")" "inactive events"
ctl unmap spid=305
wait_for 30 "the deletion event" seen "unmap spid 305"

# JSON lines, and count N ends the monitor.
run_in m "$XNAT_CTL" -j monitor count 1 >"$XNAT_TMP/monitor.json" 2>&1 &
mon=$!
jpoke() { ctl map spid=313 to 2001:db8::2 replace && ! kill -0 "$mon" 2>/dev/null; }
wait_for 60 "the JSON monitor to end after one event" jpoke
wait "$mon" || fail "monitor count 1 failed: $(cat "$XNAT_TMP/monitor.json")"
assert_eq 1 "$(wc -l <"$XNAT_TMP/monitor.json")" "JSON lines"
assert_contains "$(cat "$XNAT_TMP/monitor.json")" '{"event":"map","mapping":{"spid":313,"reqid":null,"name":null,"addr":"2001:db8::2",' "JSON event"
assert_contains "$(cat "$XNAT_TMP/monitor.json")" '"state":"inactive","reason":"no out policy with index 313","pending":"eagain",' "JSON event's state"
