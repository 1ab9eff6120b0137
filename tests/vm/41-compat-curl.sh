#!/usr/bin/env bash
# Compatibility of the pending modes with curl: an HTTP GET to a small
# server at the office host (python3 -m http.server), --connect-timeout 8,
# in eagain, drop and hold mode.  curl connects on a non-blocking socket.
# The SA goes away: curl gets through the working SA first, then the SA
# is deleted under the mapping; each cell adds it 1.5 s after curl's start
# (once its SYN was caught).  eagain: the SYN waits, counted in
# pending-nonblock-held, and the connect completes within 1 s of the SA;
# drop: the SYN is dropped, counted in pending-drops, and the connect
# completes at its retransmission; hold: the SYN is released when the SA
# comes.  The request
# reaches the server from the mapped address, in ESP.  CPU: curl's,
# measured by tests/senders/rusage.py, reported only.  IPv4.
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
mkdir -p "$XNAT_TMP/www"
run_in office python3 -m http.server 8080 --bind 0.0.0.0 --directory "$XNAT_TMP/www" \
	>"$XNAT_TMP/http.out" 2>"$XNAT_TMP/http.log" &
on_exit "kill $!"
wait_for 60 "the office's HTTP server" run_in office curl -sf -o /dev/null "http://127.0.0.1:8080/"

log "the SA works: curl through it (its CPU, mostly its start under TCG, is the baseline), then the SA is deleted"
out=$(run_in home $RUSAGE curl -sS -o /dev/null --connect-timeout 8 -m 12 "http://$OFFICE_HOST:8080/curl-warmup" 2>&1) ||
	fail "curl through the SA: $out"
assert_eq 1 "$(office_got curl-warmup)" "the warm-up request at the office, from $MAPPED"
log "curl with the SA up: $(grep '^result' <<<"$out")"
compat_sa_del

for mode in eagain drop hold; do
	compat_cell curl-http "$mode" $RUSAGE curl -sS -o /dev/null --connect-timeout 8 -m 12 \
		"http://$OFFICE_HOST:8080/@MSG@"
done

# curl's CPU is mostly its own start (2 s and more under a loaded TCG,
# the warm-up shows it): it is reported, not bounded.  That it does not
# spin shows in the counters: a few SYNs, no refusals.
for mode in eagain drop hold; do
	compat_expect_done curl-http "$mode"
done
compat_expect curl-http eagain res=ok ref=0 "nb>=1" "nb<4" drp=0 "sa>=0" "sa<1"
compat_expect curl-http drop res=ok "drp>=1" "drp<4" ref=0 nb=0 "sa>=0"
compat_expect curl-http hold res=ok "held>=1" ref=0 drp=0
compat_finish
