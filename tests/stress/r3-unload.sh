#!/usr/bin/env bash
# Stress 3: load/unload cycles under traffic and requests.  Each cycle
# loads the module, maps the reference scenario's policy and a second policy whose SA is
# missing in hold mode, passes pings (and every fifth cycle a UDP or TCP
# exchange) through the tunnel, has three datagrams held (sent by the home
# box, or every other cycle forwarded from the LAN), and unloads the module
# with them held, while tests/tools/genl_race.py sends requests as fast as
# one socket can (across the reloads) and the LAN pings the office.  100
# cycles or STRESS_SECONDS, whichever comes first (at least 3 cycles).
# Held packets are freed, never sent; nothing leaves in plaintext;
# afterwards the module loads and works.  (The runner fails the section on
# any kernel report, and on kmemleak on the debug kernel.)
# timeout: 900
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../howto.sh"
. "$(dirname "$0")/stress.sh"

require_root
require_cmd ip python3 ping tcpdump nft genl
require_module
require_ctl
stress_budget 40

howto_setup 4
# The hold policy: another index, destination and reqid, with no SA.
HOLD_SPID=321 HOLD_ADDR=10.20.31.2
run_in home ip xfrm policy add src "$HOLD_ADDR/32" dst "$OTHER_NET" dir out index "$HOLD_SPID" \
	tmpl src "$HOME_WAN" dst "$GW_WAN" proto esp reqid 2 mode tunnel
guard_unmapped "$OFFICE_NET" "$OTHER_NET"
capture_start router r-home unload

stop=$XNAT_TMP/stop
# Niced: it takes whatever CPU the cycles leave (under TCG, at full speed,
# one vCPU), and races each rmmod, which sleeps while it waits.
run_in home nice -n 19 python3 "$REPO/tests/tools/genl_race.py" $((STRESS_SECONDS * 2 + 60)) 313 10.20.32.2 "$stop" \
	>"$XNAT_TMP/race.out" 2>&1 &
racer=$!
on_exit "touch $stop; wait $racer 2>/dev/null"
run_in lan ping -q -i 0.02 -w $((STRESS_SECONDS + 60)) "$OFFICE_HOST" >/dev/null 2>&1 &
on_exit "kill $! 2>/dev/null"

loaded() { grep -q '^xfrm_nat ' /proc/modules; }
hold_is() { [ "$(stat_of home "$HOLD_SPID" hold_queued)" = "$1" ]; }

cycles=0 held=0 exchanges=0 busy=0
start=$EPOCHREALTIME end=$(stress_deadline)
while [ "$cycles" -lt 100 ] && { [ "$cycles" -lt 3 ] || [ "$SECONDS" -lt "$end" ]; }; do
	c=$((cycles + 1))
	out=$(insmod "$XNAT_KO" 2>&1) || fail "insmod in cycle $c: $out"
	xnat map "spid=$SPID" to "$MAPPED"
	xnat map "spid=$HOLD_SPID" to "$HOLD_ADDR" pending hold hold-packets 50
	# Traffic through the tunnel: a ping, and every fifth cycle a UDP or
	# TCP exchange (a python start each, slow under TCG).
	from=home
	[ $((c % 2)) = 0 ] || from=lan
	ping_ok "$from" "$OFFICE_HOST" 2
	if [ $((c % 5)) = 1 ]; then
		case $((c / 5 % 4)) in
		0) exchange lan tcp "c$c-lan-tcp" ;;
		1) exchange home udp "c$c-home-udp" ;;
		2) exchange lan udp "c$c-lan-udp" ;;
		*) exchange home tcp "c$c-home-tcp" ;;
		esac
		exchanges=$((exchanges + 1))
	fi
	# Three datagrams held, sent by the home box or forwarded from the LAN:
	# bash's /dev/udp, a new socket (and flow) each.
	run_in "$from" bash -c 'for i in 1 2 3; do echo "held-$1-$i" >"/dev/udp/$2/5001" || exit 1; done' \
		sh "$from-$c" "$OTHER_HOST" || fail "sends from $from into the hold queue in cycle $c"
	wait_for 30 "3 packets held in cycle $c" hold_is 3
	held=$((held + 3))
	# A dump in progress holds a module reference: rmmod then says EBUSY.
	for ((i = 0; ; i++)); do
		out=$(rmmod xfrm_nat 2>&1) && break
		busy=$((busy + 1))
		[ "$i" -lt 1000 ] || fail "rmmod in cycle $c: $out"
		sleep 0.01
	done
	! loaded || fail "xfrm_nat still loaded after rmmod in cycle $c"
	fams=$(genl_families home)
	! grep -qx xfrm_nat <<<"$fams" || fail "the xfrm_nat family is still registered after rmmod in cycle $c"
	cycles=$c
	[ $((c % 10)) != 1 ] || log "cycle $c done"
done
elapsed=$(fcalc "${EPOCHREALTIME} - $start")
log "$cycles cycles done"
touch "$stop"
wait "$racer" || fail "the request client failed: $(cat "$XNAT_TMP/race.out")"
sed 's/^/# client: /' "$XNAT_TMP/race.out"
capture_stop unload

lives=$(grep -c '^life ' "$XNAT_TMP/race.out" || true)
answered=$(sed -n 's/^total answered \([0-9]*\) .*/\1/p' "$XNAT_TMP/race.out")
quiet=$(awk '$1 == "life" && $4 == 0' "$XNAT_TMP/race.out" | wc -l)
plain=$(capture_count unload "not esp and (host $MAPPED or host $HOLD_ADDR or host $OFFICE_HOST or host $OTHER_HOST)")
figure unload_cycles "$cycles"
figure unload_cycles_per_s "$(fcalc "$cycles / $elapsed")"
figure unload_udp_tcp_exchanges "$exchanges"
figure unload_packets_held_at_unload "$held"
figure unload_rmmod_busy_retries "$busy"
figure unload_racer_lives "$lives"
figure unload_racer_answered "${answered:-0}"
figure unload_plaintext "$plain"

assert_ge $((cycles - 1)) "$lives" "module lifetimes the request client saw"
[ "$quiet" -le 1 ] || fail "$quiet module lifetimes without an answered request"
[ "$plain" = 0 ] || fail "plaintext on the WAN: $(capture_show unload "not esp and (host $MAPPED or host $HOLD_ADDR or host $OFFICE_HOST or host $OTHER_HOST)" | head -n 20)"
assert_eq 0 "$(grep -c held- "$XNAT_TMP/office.log" || true)" "held datagrams at the office"

log "after the cycles the module loads, holds and releases, and maps as before"
load_module
xnat map "spid=$SPID" to "$MAPPED"
xnat map "spid=$HOLD_SPID" to "$HOLD_ADDR" pending hold
out=$(run_in home $PEER udp-send "$OTHER_HOST" 5001 final --no-reply 2>&1)
assert_contains "$out" "sent 1 failed 0" "a send into the hold queue"
wait_for 30 "the packet in the hold queue" hold_is 1
exchange home udp final-udp
exchange lan tcp final-tcp
assert_eq "$MAPPED" "$(office_sources)" "sources seen by the office"
assert_eq "held=1 released=0 overflow=0 timeout=0 error=0 queued=1" "$(hold_counters "$HOLD_SPID")" "hold counters"
xnat show
