#!/usr/bin/env bash
# Stress 4: namespaces deleted with live mappings, flows and held packets,
# one after another for STRESS_SECONDS (at least two).  Each namespace has
# a tunnel to a surviving namespace ("anchor"), a mapping whose flows
# (ping, UDP) are NATed into it, and, every other one, a hold-mode mapping
# of a policy without SA with three datagrams held.  It is deleted while
# all that is live, its senders killed just after.  A namespace is really
# gone when its end removes the peer of its veth pair in the anchor; each
# must go (those with held packets once the packets expire: they keep their
# sockets, and so the namespace, alive until then), and the figures say how
# long it took.  (The runner fails the section on any kernel report, on
# kmemleak on the debug kernel, and if the module cannot be unloaded
# afterwards.)
# timeout: 900
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../howto.sh"
. "$(dirname "$0")/stress.sh"

require_root
require_cmd ip python3 ping
require_module
require_ctl
stress_budget 50

load_module
netns_create anchor
forwarding anchor
tmpdir
# The held packets' lifetime: short, so that their namespaces end within the
# section; long enough for the checks while they are held (the debug kernel
# under TCG takes seconds for a few xnatctl calls).
lifetime=8
[ "$(slowness)" = 1 ] || lifetime=20
# Limit for a namespace to go: its held packets' lifetime, plus the time
# the kernel's namespace cleanup may take when busy.
gone_limit=$((lifetime + 30 * $(slowness)))

# The watcher: every 0.1 s, the anchor's veth ends; a namespace whose end
# disappeared is gone.  $XNAT_TMP/deleted/N holds its deletion time;
# gone.log gets "N HELD SECONDS" lines.
mkdir -p "$XNAT_TMP/deleted"
watch_gone() {
	local links f n
	while :; do
		links=$(ip -n anchor -o link show 2>/dev/null)
		for f in "$XNAT_TMP"/deleted/*; do
			[ -e "$f" ] || continue
			n=${f##*/}
			if ! grep -q ": a$n@" <<<"$links"; then
				read -r at held <"$f"
				echo "$n $held $(fcalc "${EPOCHREALTIME} - $at")" >>"$XNAT_TMP/gone.log"
				rm -f "$f"
			fi
		done
		sleep 0.1
	done
}
watch_gone &
on_exit "kill $!"
touch "$XNAT_TMP/gone.log"

dctl() { run_in "d$1" "$XNAT_CTL" "${@:2}"; }
hold_queued_in_is() { [ "$(stat_of "d$1" 313 hold_queued)" = "$2" ]; }
flows_of() { stat_of "d$1" 305 flows; }
flows_ge() { [ "$(flows_of "$1")" -ge "$2" ]; }

n=0 with_held=0 nat_flows=0
end=$(stress_deadline)
while [ "$n" -lt 250 ] && { [ "$n" -lt 2 ] || [ "$SECONDS" -lt "$end" ]; }; do
	n=$((n + 1))
	ns=d$n d=10.201.$n.1 a=10.201.$n.254
	ip netns add "$ns"
	on_exit "ip netns del $ns"
	ip -n "$ns" link set lo up
	veth_pair "$ns" d0 "$d/24" anchor "a$n" "$a/24"
	run_in "$ns" ip route add default via "$a"
	run_in "$ns" sysctl -qw net.core.xfrm_acq_expires=$lifetime
	run_in "$ns" ip xfrm state add src "$d" dst "$a" proto esp spi 0x1000 reqid 1 mode tunnel \
		aead "rfc4106(gcm(aes))" "$KEY_OUT" 128
	run_in "$ns" ip xfrm policy add src 10.99.0.0/24 dst 198.51.100.0/24 dir out index 305 \
		tmpl src "$d" dst "$a" proto esp reqid 1 mode tunnel
	dctl "$n" map spid=305 to 10.99.0.1
	pids=()
	# Not through run_in: $! is then the process itself.
	ip netns exec "$ns" ping -q -i 0.05 198.51.100.1 >/dev/null 2>&1 &
	pids+=($!)
	# shellcheck disable=SC2086
	ip netns exec "$ns" $PEER udp-send 198.51.100.1 5001 live --count 100000 --interval 0.05 --keep-going >/dev/null 2>&1 &
	pids+=($!)
	on_exit "kill ${pids[*]} 2>/dev/null"
	held=0
	if [ $((n % 2)) = 1 ]; then
		run_in "$ns" ip xfrm policy add src 10.99.1.0/24 dst 198.51.101.0/24 dir out index 313 \
			tmpl src "$d" dst "$a" proto esp reqid 2 mode tunnel
		dctl "$n" map spid=313 to 10.99.1.1 pending hold
		out=$(run_in "$ns" $PEER udp-send 198.51.101.1 5001 held --count 3 --numbered --no-reply 2>&1)
		assert_contains "$out" "sent 3 failed 0" "sends into the hold queue of $ns"
		wait_for 10 "3 packets held in $ns" hold_queued_in_is "$n" 3
		held=1 with_held=$((with_held + 1))
	fi
	wait_for 30 "the ping and UDP flows of $ns NATed" flows_ge "$n" 2
	nat_flows=$((nat_flows + $(flows_of "$n")))
	echo "$EPOCHREALTIME $held" >"$XNAT_TMP/deleted/$n"
	ip netns del "$ns"
	kill "${pids[@]}" 2>/dev/null || true
	wait "${pids[@]}" 2>/dev/null || true
done
deleted=$n

log "deleted $deleted namespaces ($with_held with held packets); waiting until they are all gone"
all_gone() { ! compgen -G "$XNAT_TMP/deleted/*" >/dev/null; }
wait_for "$gone_limit" "every deleted namespace to be gone (left: $(ls "$XNAT_TMP/deleted" | tr '\n' ' '))" all_gone
sort -n "$XNAT_TMP/gone.log" | sed 's/^/# gone: d/'

gone=$(wc -l <"$XNAT_TMP/gone.log")
awk '$2 == 1 { print $3 }' "$XNAT_TMP/gone.log" >"$XNAT_TMP/held.s"
awk '$2 == 0 { print $3 }' "$XNAT_TMP/gone.log" >"$XNAT_TMP/plain.s"
read -r held_median held_max < <(median_max "$XNAT_TMP/held.s")
read -r plain_median plain_max < <(median_max "$XNAT_TMP/plain.s")
figure netns_deleted "$deleted"
figure netns_gone "$gone"
figure netns_with_held_packets "$with_held"
figure netns_nat_flows "$nat_flows"
figure netns_gone_s_median "$plain_median"
figure netns_gone_s_max "$plain_max"
figure netns_held_gone_s_median "$held_median"
figure netns_held_gone_s_max "$held_max"
figure netns_held_lifetime_s "$lifetime"

assert_eq "$deleted" "$gone" "namespaces gone"
assert_ge 2 "$deleted" "namespaces deleted"

log "the module holds no namespace: it unloads, reloads and maps"
unload_module
load_module
run_in anchor "$XNAT_CTL" map spid=305 to 10.99.0.1
assert_contains "$(run_in anchor "$XNAT_CTL" show)" "10.99.0.1" "a mapping after the reload"
