#!/usr/bin/env bash
# Compatibility of the pending modes with Go senders
# (tests/senders/gosend): net.Dial("udp") + Write + Read with a 4 s
# deadline, and net.DialTimeout("tcp") with 8 s, in eagain, drop and hold
# mode.  Go's sockets are always non-blocking under its poller, which takes
# EAGAIN from a write as "wait until writable, write again".  The SA goes
# away: a Go exchange goes through the working SA first, then the SA is
# deleted under the mapping; each cell adds it 1.5 s after the sender's
# start.  eagain: the datagram or SYN waits, counted in
# pending-nonblock-held, the Write succeeds, and the reply or connect
# follows within 1 s of the SA; no CPU is burnt.  drop: the same,
# counted in pending-drops; hold: released when the SA comes.  Each flow
# completes once the SA is up, from the mapped address, in ESP.  IPv4.
# timeout: 240
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../howto.sh"
. "$(dirname "$0")/../compat.sh"

require_root
require_cmd ip tcpdump python3 timeout
require_module
require_ctl
require_senders "$GOSEND"

compat_setup

log "the SA works: a Go exchange through it, then the SA is deleted under the mapping"
out=$(run_in home "$GOSEND" tcp "$OFFICE_HOST" 5002 go-warmup 5 2>&1) || fail "exchange through the SA: $out"
assert_contains "$out" "result ok" "Go exchange through the working SA"
assert_eq 1 "$(office_got go-warmup)" "the warm-up connection at the office, from $MAPPED"
compat_sa_del

for mode in eagain drop hold; do
	compat_cell go-udp "$mode" "$GOSEND" udp "$OFFICE_HOST" 5001 @MSG@ 4
	compat_cell go-tcp "$mode" "$GOSEND" tcp "$OFFICE_HOST" 5002 @MSG@ 8
done

for k in go-udp go-tcp; do
	for mode in eagain drop hold; do
		compat_expect "$k" "$mode" "cpu<1.5"
		compat_expect_done "$k" "$mode"
	done
done
compat_expect go-udp eagain res=ok ref=0 nb=1 drp=0 "sa<1"
compat_expect go-tcp eagain res=ok ref=0 "nb>=1" "sa>=0" "sa<1"
compat_expect go-udp drop res=timeout drp=1 ref=0
compat_expect go-udp hold res=ok held=1 ref=0 drp=0
compat_expect go-tcp drop res=ok "drp>=1" ref=0 "sa>=0"
compat_expect go-tcp hold res=ok "held>=1" ref=0 drp=0
compat_finish
