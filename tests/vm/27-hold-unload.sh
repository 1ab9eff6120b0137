#!/usr/bin/env bash
# Packets held (hold mode, the SA missing) when the module is unloaded, or
# when their namespace is deleted, are freed: the sending socket, still
# open, gets its send buffer back, their unconfirmed conntrack entries go,
# nothing fires after the unload when their deadline passes, and they never
# reach the office.  After a reload hold mode works again.  A deleted
# namespace with held packets goes away once they expire (they keep their
# sockets, and so the namespace, alive until then).  (The
# runner fails the test on kernel warnings, and on kmemleak reports on the
# debug kernel.)
# timeout: 240
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../howto.sh"

require_root
require_cmd ip python3
require_module
require_ctl

howto_setup 4
sa_del
load_module
# A short lifetime: the held packets' deadlines pass within the test.  Long
# enough for the checks while they are held: the first test of a fresh
# guest (cold caches) reads the conntrack count some 3 s after the sends on
# an idle host, twice that when other guests keep its cores busy, and the
# debug kernel takes seconds for a few xnatctl calls.
lifetime=15
[ -e /sys/kernel/debug/kmemleak ] && lifetime=20
run_in home sysctl -qw net.core.xfrm_acq_expires=$lifetime
xnat map "spid=$SPID" to "$MAPPED" pending hold
ct0=$(ct_count home)

log "five datagrams held from a socket that stays open"
# Not through run_in: $! is then the sender itself (ip netns exec execs it).
# shellcheck disable=SC2086
ip netns exec home $PEER udp-send "$OFFICE_HOST" 5001 unload --count 5 --interval 0.02 --numbered --no-reply --trace --stay 120 \
	>"$XNAT_TMP/sender.out" 2>&1 &
sender=$!
on_exit "kill $sender"
wait_for 30 "the sender's local port" grep -q '^port ' "$XNAT_TMP/sender.out"
assert_contains "$(cat "$XNAT_TMP/sender.out")" "sent 5 failed 0" "the sender"
port=$(awk '$1 == "port" { print $2 }' "$XNAT_TMP/sender.out")
sent_at=$(trace_time sent "$XNAT_TMP/sender.out")
assert_eq 5 "$(mapping_field "$SPID" hold_queued)" "packets in the hold queue"
txq=$(udp_tx_queue home "$port") || fail "no UDP socket on port $port: $(run_in home cat /proc/net/udp)"
ct1=$(ct_count home)
log "held: the socket's tx_queue is $txq bytes; conntrack entries $ct0 -> $ct1"
# Read while all five were still held: else the counts above say nothing.
assert_eq "held=5 released=0 overflow=0 timeout=0 error=0 queued=5" "$(hold_counters "$SPID")" \
	"hold counters after the reads (past the deadline if timeout>0: raise the lifetime)"
assert_ge 1 "$txq" "tx_queue of the sending socket while its datagrams are held"
assert_eq $((ct0 + 5)) "$ct1" "conntrack entries (the held packets' unconfirmed ones)"

log "unload with the packets held"
unload_module
wait_for 10 "the socket's tx_queue to drop to 0" udp_tx_queue_is home "$port" 0
wait_for 10 "the held packets' conntrack entries to go" ct_count_is home "$ct0"
kill -0 "$sender" 2>/dev/null || fail "the sender ended: $(cat "$XNAT_TMP/sender.out")"
# Past the held packets' deadline: nothing of the module may fire now.
sleep "$(python3 -c "import time; print(max(0.0, $sent_at + $lifetime + 0.5 - time.time()))")"

log "after a reload, hold mode works again; the freed packets never arrive"
load_module
xnat map "spid=$SPID" to "$MAPPED" pending hold
run_in home $PEER udp-send "$OFFICE_HOST" 5001 reload --timeout 30 >"$XNAT_TMP/reload.out" 2>&1 &
reload=$!
wait_for 30 "a packet in the hold queue" hold_queued_is 1
sa_add
wait "$reload" || fail "no reply to the datagram held after the reload: $(cat "$XNAT_TMP/reload.out")"
assert_contains "$(cat "$XNAT_TMP/reload.out")" "ok reload" "the exchange held after the reload"
assert_eq "held=1 released=1 overflow=0 timeout=0 error=0 queued=0" "$(hold_counters "$SPID")" "hold counters after the reload"
assert_eq 0 "$(office_count unload-)" "datagrams freed by the unload at the office"
assert_eq "$MAPPED" "$(office_sources)" "sources seen by the office"
kill "$sender"
wait "$sender" 2>/dev/null || true

log "a namespace deleted with packets held goes away once they expire"
sa_del
doomed_at=$(date +%s.%N)
out=$(run_in home $PEER udp-send "$OFFICE_HOST" 5001 doomed --count 3 --numbered --no-reply 2>&1)
assert_contains "$out" "sent 3 failed 0" "sends into the hold queue"
assert_eq 3 "$(mapping_field "$SPID" hold_queued)" "packets in the hold queue"
del_at=$(date +%s.%N)
ip netns del home
# Its end removes the peer of its WAN link in the router's namespace.
wait_for $((lifetime + 60)) "the home namespace to be dismantled" sh -c '! ip -n router link show r-home'
gone_at=$(date +%s.%N)
log "the home namespace went away $(fcalc "$gone_at - $del_at") s after 'ip netns del'"
# Held packets keep their sending sockets, and so the namespace, alive
# (as the kernel's own xfrm hold queue does): it ends once they expired,
# and the namespace's exit then finds nothing left of the module's.
log "it ended $(fcalc "$gone_at - $doomed_at") s after the sends; their lifetime was $lifetime s"
assert_eq 0 "$(office_count doomed)" "datagrams of the deleted namespace at the office"
unload_module
