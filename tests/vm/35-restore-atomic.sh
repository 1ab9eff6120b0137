#!/usr/bin/env bash
# `xnatctl restore` replaces the whole set at once: under traffic, no packet
# sees half of a new set.  Two policies, two mappings; round K of a loop of
# restores maps them to 10.20.K.1 and 172.31.K.1, so every datagram the
# offices receive tells the round it was translated under.  A local sender
# sends numbered datagrams, alternately to each office, each from a new
# socket on a port of its own (a new flow, so a new NAT decision), in
# order, in its own syscalls.
# With one atomic swap per restore the round can only grow along the
# sequence; a set applied one mapping at a time lets a datagram to the first
# office see round K+1 and the next one, to the second, round K.  The same
# loop done with two `map ... replace` commands a round must show exactly
# that, which proves the check can see a half-applied set.  All of it in ESP.
# timeout: 240
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../howto.sh"

require_root
require_cmd ip tcpdump python3
require_module
require_ctl

# The policies select whole /16s around the mapped addresses.
howto_setup 4 16
netns_create other
veth_pair gw lan1 "$OTHER_GW/24" other eth0 "$OTHER_HOST/24"
run_in other ip route add default via "$OTHER_GW"
run_in home ip xfrm policy add src 172.31.0.0/16 dst "$OTHER_NET" dir out index 321 \
	tmpl src "$HOME_WAN" dst "$GW_WAN" proto esp reqid 1 mode tunnel
howto_return_policies 172.31.0.0/16 "$OTHER_NET"
run_in other $PEER udp-server 5001 "$XNAT_TMP/other.log" &
on_exit "kill $!"
touch "$XNAT_TMP/other.log"
wait_for 30 "the second office's server" test -e "$XNAT_TMP/other.log.ready-udp5001"

load_module
xnat map "spid=$SPID" to 10.20.0.1
xnat map spid=321 to 172.31.0.1
exchange home udp warm-up

cat >"$XNAT_TMP/sender.py" <<'PY'
import socket, sys, time
office, other, seconds, first = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
end = time.monotonic() + seconds
seq, errors = first, 0
while time.monotonic() < end:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # A port of its own: a reused one would find the conntrack entry, and
    # so the NAT binding, of an earlier round.
    s.bind(("0.0.0.0", 20000 + seq % 40000))
    try:
        s.sendto(f"seq-{seq}".encode(), (office if seq % 2 == 0 else other, 5001))
    except OSError:
        errors += 1
    s.close()
    seq += 1
    time.sleep(0.002)
print(seq - first, errors)
PY

# check_rounds FIRST LAST: the rounds seen by datagrams FIRST..LAST, in send
# order; prints "received rounds inversions".
check_rounds() {
	python3 - "$XNAT_TMP/office.log" "$XNAT_TMP/other.log" "$1" "$2" <<'PY'
import sys
seen = {}
for path, prefix in ((sys.argv[1], "10.20."), (sys.argv[2], "172.31.")):
    for line in open(path):
        parts = line.split()
        if len(parts) != 3 or not parts[2].startswith("seq-"):
            continue
        seq = int(parts[2][4:])
        if not parts[1].startswith(prefix) or not parts[1].endswith(".1"):
            sys.exit(f"datagram {seq} arrived from {parts[1]}, not from a mapped {prefix}K.1")
        seen[seq] = int(parts[1].split(".")[2])
first, last = int(sys.argv[3]), int(sys.argv[4])
order = [seen[s] for s in sorted(seen) if first <= s <= last]
inversions = sum(1 for a, b in zip(order, order[1:]) if b < a)
print(len(order), len(set(order)), inversions)
PY
}

# churn FIRST ROUND0 atomic|split: the sender for 12 s from sequence FIRST
# while rounds ROUND0, ROUND0+1, ... are applied; prints the sender's count.
churn() {
	local first=$1 k=$2 how=$3 spid=$SPID
	run_in home python3 "$XNAT_TMP/sender.py" "$OFFICE_HOST" "$OTHER_HOST" 12 "$first" >"$XNAT_TMP/sent.$how" &
	local sender=$!
	while kill -0 "$sender" 2>/dev/null && [ "$k" -lt 250 ]; do
		if [ "$how" = atomic ]; then
			printf 'map spid=%s to 10.20.%s.1\nmap spid=321 to 172.31.%s.1\n' "$spid" "$k" "$k" >"$XNAT_TMP/round.conf"
			xnat restore "$XNAT_TMP/round.conf"
		else
			xnat map "spid=$spid" to "10.20.$k.1" replace
			xnat map spid=321 to "172.31.$k.1" replace
		fi
		k=$((k + 1))
	done
	wait "$sender" || fail "the sender failed"
	echo "$k"
}

capture_start router r-home wan
log "restore, one request a round"
last=$(churn 0 1 atomic)
read -r sent errors <"$XNAT_TMP/sent.atomic"
sleep 1
read -r received rounds inversions < <(check_rounds 0 $((sent - 1)))
log "atomic: $sent sent ($errors errors), $received received, rounds 1-$((last - 1)), $rounds seen, $inversions inversions"
assert_eq 0 "$errors" "send errors during restores"
assert_ge $((sent * 9 / 10)) "$received" "datagrams received of $sent"
assert_ge 5 "$rounds" "rounds seen by the datagrams"
assert_eq 0 "$inversions" "datagrams that saw an older set than the datagram before them"

log "the same with two map commands a round (not atomic)"
base=100000
last=$(churn "$base" 100 split)
read -r sent errors <"$XNAT_TMP/sent.split"
sleep 1
read -r received rounds inversions < <(check_rounds "$base" $((base + sent - 1)))
log "split: $sent sent, $received received, $rounds rounds seen, $inversions inversions"
assert_ge 3 "$rounds" "rounds seen by the datagrams"
assert_ge 1 "$inversions" "inversions with a half-applied set (the check must see them)"
capture_stop wan

assert_eq 0 "$(capture_count wan "not esp and (net 10.0.0.0/8 or net 172.16.0.0/12)")" "plaintext to or from the offices and mapped nets"
assert_ge 1000 "$(capture_count wan esp)" "ESP packets on the WAN"
