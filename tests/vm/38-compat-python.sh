#!/usr/bin/env bash
# Compatibility of the pending modes with Python senders
# (tests/senders/pysend.py): UDP sendto and TCP connect on a socket without
# a timeout (blocking: one system call, EAGAIN raised at once) and with a
# timeout (O_NONBLOCK underneath: Python takes EAGAIN as "would block",
# polls and calls again until the timeout, as asyncio does), in eagain,
# drop and hold mode.  A first SA: it was never used before the matrix
# runs; each cell adds it 1.5 s after the sender's start and deletes it
# before the next.  eagain: without a timeout EAGAIN at once
# (pending-refused); with one, the datagram or SYN waits, counted in
# pending-nonblock-held, the call succeeds, the reply or connect follows
# within 1 s of the SA, and no CPU is burnt (before, one such UDP send
# spun for its whole timeout).  Each flow completes once
# the SA is up, from the mapped address, in ESP.  IPv4.
# timeout: 300
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../howto.sh"
. "$(dirname "$0")/../compat.sh"

require_root
require_cmd ip tcpdump python3 timeout

require_module
require_ctl

compat_setup
compat_sa_del

for mode in eagain drop hold; do
	compat_cell py-udp "$mode" $PYSEND udp "$OFFICE_HOST" 5001 @MSG@ --wait 4
	compat_cell py-udp-timeout "$mode" $PYSEND udp "$OFFICE_HOST" 5001 @MSG@ --timeout 4
	compat_cell py-tcp "$mode" $PYSEND tcp "$OFFICE_HOST" 5002 @MSG@
	compat_cell py-tcp-timeout "$mode" $PYSEND tcp "$OFFICE_HOST" 5002 @MSG@ --timeout 8
done

for k in py-udp py-udp-timeout py-tcp py-tcp-timeout; do
	for mode in eagain drop hold; do
		compat_expect "$k" "$mode" "cpu<1.5"
		compat_expect_done "$k" "$mode"
	done
done
compat_expect py-udp eagain res=EAGAIN "el<1" ref=1 nb=0 drp=0
compat_expect py-tcp eagain res=EAGAIN "el<1" ref=1 nb=0 drp=0
compat_expect py-udp-timeout eagain res=ok ref=0 nb=1 drp=0 "sa<1"
compat_expect py-tcp-timeout eagain res=ok ref=0 "nb>=1" "sa>=0" "sa<1"
for k in py-udp py-udp-timeout; do
	compat_expect "$k" drop res=timeout drp=1 ref=0
	compat_expect "$k" hold res=ok held=1 ref=0 drp=0
done
for k in py-tcp py-tcp-timeout; do
	compat_expect "$k" drop res=ok "drp>=1" ref=0 "sa>=0"
	compat_expect "$k" hold res=ok "held>=1" ref=0 drp=0
done
compat_finish
