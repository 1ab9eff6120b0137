#!/usr/bin/env bash
# Non-blocking senders that meet a pending SA in mode eagain wait in the
# namespace's queue for them, 64 packets per address family: a burst of 80
# datagrams from a non-blocking socket all count as pending-nonblock-held
# (each met the pending SA), the 16 the queue had no room for also as
# pending-nonblock-drops, and the sender sees no error for any.  Once the SA is added the 64 held ones reach the office with the
# mapped source; the 16 dropped ones never do.
# families: 4 6
# timeout: 180
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../howto.sh"

require_root
require_cmd ip python3
require_module
require_ctl

howto_setup "$(test_family)"
sa_del
load_module
xnat map "spid=$SPID" to "$MAPPED"

log "80 datagrams from a non-blocking socket, the SA missing"
out=$(run_in home $PEER udp-send "$OFFICE_HOST" 5001 nb --nonblock --count 80 --interval 0 --numbered --no-reply)
assert_contains "$out" "sent 80 failed 0" "the non-blocking sender"
assert_eq 80 "$(mapping_field "$SPID" pending_nonblock_held)" "pending-nonblock-held"
assert_eq 16 "$(mapping_field "$SPID" pending_nonblock_drops)" "pending-nonblock-drops"
assert_eq 0 "$(mapping_field "$SPID" pending_refused)" "pending-refused"
assert_eq 0 "$(office_count nb-)" "datagrams at the office while the SA is missing"

log "the SA added: the held datagrams leave, the dropped ones do not"
sa_add
wait_for 20 "64 datagrams at the office" office_count_ge nb- 64
sleep 1
assert_eq 64 "$(office_count nb-)" "datagrams at the office"
assert_eq 64 "$(awk -v src="$MAPPED" '$1 == "udp" && $2 == src && $3 ~ /^nb-/' "$XNAT_TMP/office.log" | wc -l)" \
	"of them from the mapped source"
assert_eq 16 "$(mapping_field "$SPID" pending_nonblock_drops)" "pending-nonblock-drops after the release"
