#!/usr/bin/env bash
# In-VM part of `make bench-insns` (started by tests/bench/run-insns.sh,
# under QEMU with the tbcount plugin): the guest instructions that new
# NATed flows cost with xfrm-nat, iptables and nftables, on the same three
# copies of the reference topology as bench.sh.
#
#   bash tests/bench/insns.sh OUTDIR
#
# For each N in BENCH_NS, the N policies, mappings, rules and elements are
# loaded for all three tools at once; then in BENCH_ROUNDS rounds each tool
# in turn sends new flows for BENCH_SECONDS.  flowgen calls window_mark()
# just before and after its send loop, and tbcount writes its counts at
# each call: the second of each pair covers the send loop alone.
# OUTDIR/windows.txt lists, per window, "TOOL N ROUND DUMP SENT RECEIVED";
# OUTDIR/kallsyms names the addresses.  Counts, not time: the load on the
# host does not change them, but whatever else the guest runs meanwhile
# (the conntrack garbage collector, timers) lands in the window it falls in.
# With BENCH_TRAFFIC=unmapped the flows go to the router instead, outside
# every policy, mapping, rule and element: what each tool costs the rest of
# the traffic.
set -euo pipefail
out=${1:?usage: insns.sh OUTDIR}
BENCH_DIR=$(dirname "$0")
. "$BENCH_DIR/common.sh"

traffic=${BENCH_TRAFFIC:-mapped}
case $traffic in
mapped) dst=$OFFICE_HOST sink=office ;;
unmapped) dst=$ROUTER_HOME sink=router ;;
*) fail "BENCH_TRAFFIC must be mapped or unmapped, not '$traffic'" ;;
esac
echo "$traffic" >"$out/traffic"
say "kernel $(uname -r); rounds $ROUNDS, $SECS s per window, N in ${NS[*]}, $traffic flows"
bring_up

: >"$out/windows.txt"
# tbcount's next dump: each flowgen send makes two.
dump=0
have=1
for n in "${NS[@]}"; do
	for p in x i n; do
		policies_batch "$have" "$n" | run_in "$p-home" ip -batch - || fail "adding policies in $p-home"
	done
	have=$n
	make_files "$n"
	for t in "${TOOLS[@]}"; do
		install "$t" "$n" >/dev/null
		got=$(loaded "$t")
		[ "$got" = "$n" ] || fail "$t: $got loaded, not $n"
	done
	for ((r = 1; r <= ROUNDS; r++)); do
		for ((j = 0; j < ${#TOOLS[@]}; j++)); do
			t=${TOOLS[(r - 1 + j) % ${#TOOLS[@]}]}
			p=$(prefix "$t")
			# Warm-up: the first flows after a pause fill caches and slabs.
			send "$p" "$dst" 0.3 new
			dump=$((dump + 2))
			sleep 0.2
			udp_rx "$p-$sink"
			b=$RX
			send "$p" "$dst" "$SECS" new
			dump=$((dump + 2))
			sleep 0.3
			udp_rx "$p-$sink"
			[ "$RX" -gt "$b" ] || fail "no datagram of $p-lan reached $p-$sink (sent $SENT): setup broken"
			echo "$t $n $r $((dump - 1)) $SENT $((RX - b))" >>"$out/windows.txt"
			say "N=$n round $r $t: sent $SENT, received $((RX - b))"
		done
	done
	for t in "${TOOLS[@]}"; do clear_tool "$t"; done
done
cat /proc/kallsyms >"$out/kallsyms"
say "done"
