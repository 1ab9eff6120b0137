#!/usr/bin/env bash
# Compatibility of the pending modes with curl: an HTTP GET to a small
# server at the office host (python3 -m http.server), --connect-timeout 5,
# in eagain, drop and hold mode.  curl connects on a non-blocking socket.
# A first SA (never used before); each cell adds it 1.5 s after curl's
# start.  eagain: the SYN is dropped and counted in pending-nonblock-drops,
# and the connect completes at the SYN retransmission after the SA came
# (before, curl failed at once: "Resource temporarily unavailable");
# drop: the same, counted in pending-drops; hold: the SYN is released when
# the SA comes.  The request reaches the server from the mapped address, in
# ESP.  CPU: curl's, measured by tests/senders/rusage.py.  IPv4.
# timeout: 240
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../howto.sh"
. "$(dirname "$0")/../compat.sh"

require_root
require_cmd ip tcpdump python3 timeout curl

require_module
require_ctl

compat_setup
compat_sa_del
mkdir -p "$XNAT_TMP/www"
run_in office python3 -m http.server 8080 --bind 0.0.0.0 --directory "$XNAT_TMP/www" \
	>"$XNAT_TMP/http.out" 2>"$XNAT_TMP/http.log" &
on_exit "kill $!"
wait_for 60 "the office's HTTP server" run_in office curl -sf -o /dev/null "http://127.0.0.1:8080/"

for mode in eagain drop hold; do
	compat_cell curl-http "$mode" $RUSAGE curl -sS -o /dev/null --connect-timeout 5 -m 8 \
		"http://$OFFICE_HOST:8080/@MSG@"
done

for mode in eagain drop hold; do
	compat_expect curl-http "$mode" "cpu<1.5"
	compat_expect_done curl-http "$mode"
done
compat_expect curl-http eagain res=ok ref=0 "nb>=1" "sa>=0"
compat_expect curl-http drop res=ok "drp>=1" ref=0 "sa>=0"
compat_expect curl-http hold res=ok "held>=1" ref=0 drp=0 "sa<1.4"
compat_finish
