#!/usr/bin/env bash
# An ACQUIRE that nothing answers leaves a larval state, which expires
# after net.core.xfrm_acq_expires; the module forgets the request with it.
# The module follows 32 open requests at once (PendingSas::CAPACITY): here
# 33 bound policies are ACQUIREd one after another, each once the previous
# larval state is gone, and the 33rd still gets its "sa pending" event.
# (Before the larval state's expiry was told apart from an SA's, every
# request stayed, and from the 33rd policy on none was announced.)
# timeout: 300
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../howto.sh"

require_root
require_cmd ip ping python3
require_module
require_ctl

netns_create home
run_in home sysctl -qw net.core.xfrm_acq_expires=1
run_in home ip link add d0 type dummy
run_in home ip addr add 200.2.2.2/24 dev d0
run_in home ip link set d0 up
run_in home ip route add 10.99.0.0/16 dev d0
load_module
tmpdir

# One policy per destination, all with the template of reqid 7 and no SA.
n=33
spid() { echo $((8 * (100 + $1) + 1)); }
for i in $(seq 1 $n); do
	run_in home ip xfrm policy add src 0.0.0.0/0 dst "10.99.$i.1/32" dir out index "$(spid "$i")" \
		tmpl src 200.2.2.2 dst 100.1.1.1 proto esp reqid 7 mode tunnel
done

monitor_start "$XNAT_TMP/monitor.log"
xnat map reqid=7 to 10.20.30.2
assert_eq active "$(key_field reqid=7 state)" "state of the reqid mapping"

# A key manager must take the ACQUIRE, or the kernel makes no larval state:
# xfrm_user does once a socket listens on its ACQUIRE group (NETLINK_XFRM,
# 6; XFRMNLGRP_ACQUIRE, bit 0 of the groups).
run_in home ip xfrm monitor acquire >"$XNAT_TMP/acquire.log" 2>&1 &
on_exit "kill $!"
acquire_listener() {
	local _sk eth _pid groups _rest
	run_in home cat /proc/net/netlink | {
		while read -r _sk eth _pid groups _rest; do
			[ "$eth" = 6 ] && [ $((0x$groups & 1)) = 1 ] && exit 0
		done
		false
	}
}
wait_for 30 "ip xfrm monitor to listen for ACQUIREs" acquire_listener

# Each ACQUIRE that ip xfrm monitor saw made a larval state (the monitor
# took it); it lives about a second, often less than what it takes under
# TCG to list it, so only its end is waited for.
acquires() { [ "$(grep -c "^acquire " "$XNAT_TMP/acquire.log")" = "$1" ]; }
no_larval() { ! run_in home ip xfrm state | grep -q "reqid 7"; }
for i in $(seq 1 $n); do
	# Refused at once (the larval state is not an SA); it only asks.
	run_in home ping -n -c1 -W1 "10.99.$i.1" >/dev/null 2>&1 && fail "ping 10.99.$i.1 got through without an SA"
	wait_for 10 "ACQUIRE $i of $n in ip xfrm monitor's output" acquires "$i"
	wait_for 10 "'sa pending spid $(spid "$i")' (ACQUIRE $i of $n)" \
		sa_events_ge "$XNAT_TMP/monitor.log" pending "$(spid "$i")" 1
	wait_for 10 "the larval state of ACQUIRE $i to expire" no_larval
done
assert_eq "$n" "$(grep -c " sa pending spid " "$XNAT_TMP/monitor.log")" "'sa pending' events"
