#!/usr/bin/env bash
# Teardown under load: deleting a namespace with live mappings and flows,
# and unloading the module while NATed traffic runs, are clean (the runner
# fails the test on any kernel warning, and kmemleak on the debug kernel);
# after a reload, mapping again makes traffic flow.
# timeout: 300
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../howto.sh"

require_root
require_cmd ip python3
require_module
require_ctl

howto_setup 4
load_module

# A namespace with its own mapping and a flow through its hooks, deleted
# while both are live.
netns_create doomed
veth_pair doomed d0 192.0.2.1/24 router r-doomed 192.0.2.254/24
run_in doomed "$XNAT_CTL" map spid=305 to 192.0.2.1
run_in doomed ping -q -i 0.05 -c 1000 192.0.2.254 >/dev/null 2>&1 &
doomed_ping=$!
sleep 1
in_doomed=$(ip netns pids doomed)
ip netns del doomed
# A namespace lives on while a process is in it, and the 1000 pings take
# 50 s or more (over 60 s on a loaded machine): end the pinger (the process
# in the namespace; $! is the shell running run_in), so that the namespace
# goes now, its mapping and the flow's conntrack entries still live.
# shellcheck disable=SC2086 # a list of pids
kill $in_doomed 2>/dev/null || true
wait "$doomed_ping" 2>/dev/null || true
# Its end (net-exit with a live mapping, not module exit) removes the peer of
# its link in the router's namespace.
wait_for 60 "the deleted namespace to be dismantled" sh -c '! ip -n router link show r-doomed 2>/dev/null'

xnat map "spid=$SPID" to "$MAPPED"
log "traffic from the LAN and the home box while the module is unloaded"
run_in lan ping -q -i 0.05 -c 200 -W 1 "$OFFICE_HOST" >/dev/null 2>&1 &
pinger=$!
run_in home $PEER udp-send "$OFFICE_HOST" 5001 live --count 400 --interval 0.05 --keep-going \
	>"$XNAT_TMP/sender.out" 2>&1 &
sender=$!
live_ge() { [ "$(grep -c live "$XNAT_TMP/office.log" || true)" -ge "$1" ]; }
wait_for 60 "5 datagrams through the tunnel before the unload" live_ge 5
unload_module
sleep 1
load_module
kill "$sender" "$pinger" 2>/dev/null || true
wait "$sender" "$pinger" 2>/dev/null || true

log "after the reload the namespace has no mappings; a new mapping works"
assert_eq "[]" "$(xnat -j show)" "mappings after the reload"
xnat map "spid=$SPID" to "$MAPPED"
exchange home udp after-reload
exchange lan tcp after-reload-tcp
assert_eq "$MAPPED" "$(office_sources)" "sources seen by the office"
