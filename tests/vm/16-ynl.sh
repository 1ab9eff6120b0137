#!/usr/bin/env bash
# The YAML spec is true: the kernel's generic client, tools/net/ynl/cli.py
# from the kernel source, drives the module knowing nothing but the spec.
# timeout: 400
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

require_root
require_cmd python3
require_module

# XNAT_KSRC: a kernel source with tools/net/ynl (the Debian 13 guest has the
# stock kernel's, scripts/debian-env.sh); else the one make kernel extracted.
ksrc=${XNAT_KSRC:-$(ls -d "${XNAT_CACHE:-$HOME/.cache/xfrm-nat}"/src/linux-*/ 2>/dev/null | head -n1)}
# Linux 6.16 moved the client from tools/net/ynl/ to tools/net/ynl/pyynl/.
ynl_dir=$ksrc/tools/net/ynl
[ ! -f "$ynl_dir/pyynl/cli.py" ] || ynl_dir=$ynl_dir/pyynl
[ -n "$ksrc" ] && [ -f "$ynl_dir/cli.py" ] ||
	fail "tools/net/ynl's cli.py not found in the kernel source at '${ksrc:-nowhere}' (make kernel extracts it under ~/.cache/xfrm-nat/src; XNAT_KSRC names another)"
# The spec's display hints (presentation only) make ynl since Linux 6.16
# read an address as text ("10.20.30.2"), older ynl as hex; this test
# speaks hex, with lengths no address text has, so ynl gets the spec
# without its hints.
tmpdir
spec=$XNAT_TMP/xfrm_nat.yaml
grep -v 'display-hint:' "$REPO/Documentation/netlink/specs/xfrm_nat.yaml" >"$spec"
ynl() {
	python3 "$ynl_dir/cli.py" --spec "$spec" \
		--schema "$ksrc/Documentation/netlink/genetlink-legacy.yaml" "$@"
}

netns_create y
load_module
ynl_in() { run_in y python3 "$ynl_dir/cli.py" --spec "$spec" \
	--schema "$ksrc/Documentation/netlink/genetlink-legacy.yaml" "$@"; }

# Listen to the events group while changing the mappings, with ynl's
# library (cli.py --subscribe only reads after a fixed sleep).
tmpdir
run_in y python3 - "$ynl_dir" "$spec" "$ksrc/Documentation/netlink/genetlink-legacy.yaml" \
	"$XNAT_TMP/ready" >"$XNAT_TMP/events" 2>&1 <<'PY' &
import sys, time
sys.path.insert(0, sys.argv[1])
from lib import YnlFamily
ynl = YnlFamily(sys.argv[2], sys.argv[3])
ynl.ntf_subscribe("events")
open(sys.argv[4], "w").close()
# A list before Linux 6.16's ynl, a queue.Queue since.
q = ynl.async_msg_queue
msgs = (lambda: list(q.queue)) if hasattr(q, "queue") else (lambda: q)
deadline = time.monotonic() + 350  # stops at 5 events; the debug kernel is slow
while len(msgs()) < 5 and time.monotonic() < deadline:
    ynl.check_ntf()
    time.sleep(0.1)
for m in msgs():
    print(m)
PY
listener=$!
# By the clock: loading the spec in python takes seconds on a loaded host.
wait_for 60 "the ynl listener to start" test -e "$XNAT_TMP/ready"

ynl_in --do map-new --json '{"spid": 305, "addr": "0a141e02"}'
out=$(ynl_in --do map-new --json '{"spid": 305, "addr": "0a141e03"}' 2>&1) && fail "second map-new succeeded: $out"
assert_contains "$out" "already mapped" "extack of a duplicate map-new"
ynl_in --do map-new --json '{"spid": 305, "addr": "0a141e03", "replace": true}'
ynl_in --do map-new --json '{"spid": 313, "addr": "20010db8000000000000000000000002"}'
out=$(ynl_in --do map-new --json '{"spid": 306, "addr": "0a141e02"}' 2>&1) && fail "map-new of a fwd spid succeeded"
assert_contains "$out" "fwd policy" "extack of a fwd spid"
# The spec's min-len of addr is the kernel's policy, which refuses a short
# address before the module sees it; the module refuses lengths between.
out=$(ynl_in --do map-new --json '{"spid": 321, "addr": "0a14"}' 2>&1) && fail "map-new with 2 address bytes succeeded"
assert_contains "$out" "binary attribute size out of range" "extack of a short address"
out=$(ynl_in --do map-new --json '{"spid": 321, "addr": "0a141e0203"}' 2>&1) && fail "map-new with 5 address bytes succeeded"
assert_contains "$out" "4 or 16 bytes" "extack of a 5-byte address"

got=$(ynl_in --do map-get --json '{"spid": 305}')
assert_contains "$got" "'spid': 305" "map-get"
assert_contains "$got" "'state': 'inactive'" "map-get state"
assert_contains "$got" "'flows': 0" "map-get stats"
dump=$(ynl_in --dump map-get)
assert_contains "$dump" "'spid': 305" "dump"
assert_contains "$dump" "'spid': 313" "dump"
# The address is what the CLI reads too.
assert_contains "$(run_in y "$XNAT_CTL" show spid=305)" "10.20.30.3" "xnatctl after ynl's replace"

ynl_in --do map-del --json '{"spid": 313}'
out=$(ynl_in --do map-del --json '{"spid": 313}' 2>&1) && fail "deleting a deleted mapping succeeded"
assert_contains "$out" "not mapped" "extack of map-del of nothing"
ynl_in --do flush
assert_eq "[]" "$(ynl_in --dump map-get)" "dump after flush"

wait "$listener" || fail "ynl listener: $(cat "$XNAT_TMP/events")"
events=$(cat "$XNAT_TMP/events")
assert_contains "$events" "map-change-ntf" "events"
assert_contains "$events" "map-del-ntf" "events"
assert_eq 3 "$(grep -c "'name': 'map-change-ntf'" <<<"$events" || true)" "map-change events (new, replace, new)"
assert_eq 2 "$(grep -c "'name': 'map-del-ntf'" <<<"$events" || true)" "map-del events (del, flush)"

# map-set, from the spec alone: a repeated nest, the whole set replaced.
ynl_in --do map-set --json '{"mapping": [{"spid": 305, "addr": "0a141e02"}, {"spid": 313, "addr": "0a141e04", "pending": 1}]}'
dump=$(ynl_in --dump map-get)
assert_contains "$dump" "'spid': 313" "dump after map-set"
assert_contains "$(run_in y "$XNAT_CTL" save)" "map spid=313 to 10.20.30.4 pending drop" "xnatctl save after ynl's map-set"
out=$(ynl_in --do map-set --json '{"mapping": [{"spid": 305, "addr": "0a141e02"}, {"spid": 305, "addr": "0a141e03"}]}' 2>&1) &&
	fail "map-set with a spid twice succeeded"
assert_contains "$out" "entry 2: spid 305 appears more than once" "extack of a duplicate in map-set"
ynl_in --do map-set --json '{}'
assert_eq "[]" "$(ynl_in --dump map-get)" "dump after an empty map-set"
