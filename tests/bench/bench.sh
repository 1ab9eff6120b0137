#!/usr/bin/env bash
# In-VM part of `make bench` (started by tests/bench/run.sh through
# scripts/vm-run.sh): xfrm-nat side by side with iptables and nftables,
# each on its own copy of the reference topology (tests/howto.sh: same
# addresses, static SAs and policies), in one boot.
#
#   bash tests/bench/bench.sh OUTDIR
#
# OUTDIR holds bin/flowgen, bin/xt_NETMAP.ko if the kernel lacks NETMAP
# (both built by run.sh) and bench.env; raw figures go to
# OUTDIR/samples.csv, one line a sample.  A benchmark, not a test: it
# measures and prints, and fails only when the setup itself is broken.
#
# For N in BENCH_NS (default 1 100 1000 10000), the home box of each copy
# has N out policies: the reference scenario's (index 305, here
# 10.20.30.0/24 -> 10.0.0.0/8) and N-1 others (index 8*(1000+k)+1, 100.64.x.y/32 -> 11.x.y.0/24).  Then
# in rounds, the tools in turn (the order rotates each round):
#   xfrm-nat  xnatctl restore of N mappings, one per policy (policies exist)
#   iptables  iptables-restore of N SNAT rules "-d NET -j SNAT --to-source
#             ADDR" in nat POSTROUTING, the one for 10.0.0.0/8 last
#   nft       nft -f of one rule "snat ip to ip daddr map @m" and an interval
#             map of N elements NET : ADDR
# and per tool: the install time, the dump time (xnatctl show, iptables -t
# nat -S, nft list ruleset), new NATed flows/s from the LAN host through
# the tunnel (a new source port per datagram, counted by the office host's
# UDP counters), and the time to add one more to the N (xnatctl map of a
# policy outside the N, iptables -A, nft add element).  At the largest N also unmapped traffic (LAN host -> the
# router, no policy): new flows/s and one flow's packets/s, with the N
# mappings/rules/elements loaded, with xfrm-nat after a flush (0 mappings,
# its hooks stay registered) and with no NAT at all.
#
# Then, in the same slot of the rotation, inbound new flows/s: the office
# host starts the flows (a new source port per datagram) towards the LAN's
# 1:1 alias 10.20.30.17, through the tunnel; the home box translates them
# to 192.168.1.17 (an address of the LAN host, whose UDP counters count
# them).  Policy 305 selects src 10.20.30.0/24 for that (the home box's in
# and fwd policies and the office gateway's out policy select the same),
# and the N-1 others stay as they are, so that this figure too is taken
# with N policies, and the N-1 other mappings, rules or elements loaded:
#   xfrm-nat  the N-1 mappings and "map spid=305 from 192.168.1.0/24
#             to 10.20.30.0/24 inbound"
#   iptables  the N-1 SNAT rules and the NETMAP pair "-A PREROUTING
#             -d 10.20.30.0/24 -j NETMAP --to 192.168.1.0/24", "-A
#             POSTROUTING -s 192.168.1.0/24 -d 10.0.0.0/8 -j NETMAP --to
#             10.20.30.0/24" (the latter after the N-1, which a new
#             inbound flow's first packet also walks in POSTROUTING)
#   nft       the map of N-1 elements and the same pair as "dnat ip prefix
#             to" and "snat ip prefix to" rules
# At N = 1 that is the recipe alone.
#
# Then "10,000 children up at once" (children.sh).  BENCH_PART (bench.env)
# picks the parts: all (default), flows (the above) or children.
set -euo pipefail
out=${1:?usage: bench.sh OUTDIR}
BENCH_DIR=$(dirname "$0")
. "$BENCH_DIR/common.sh"
. "$BENCH_DIR/children.sh"
PART=${BENCH_PART:-all}

# ---------------------------------------------------------------- run

say "kernel $(uname -r), $(nproc) CPUs; $(iptables -V); $(nft -v); xnatctl $("$XNAT_CTL" -V | awk '{ print $2 }')"
say "rounds $ROUNDS, $SECS s per traffic figure, N in ${NS[*]}"
echo "measure,tool,n,round,value,sent,received,seconds" >"$SAMPLES"
{
	echo "kernel=$(uname -r)"
	echo "cpus=$(nproc)"
	echo "iptables=$(iptables -V)"
	echo "nft=$(nft -v)"
	echo "rounds=$ROUNDS"
	echo "seconds=$SECS"
	echo "xfrm_monitor=${BENCH_XFRM_MONITOR:-0}"
	echo "part=$PART"
} >"$out/meta.txt"

if [ "$PART" = children ]; then
	children_run
	say "done"
	exit 0
fi
[ ! -f "$out/bin/xt_NETMAP.ko" ] || insmod "$out/bin/xt_NETMAP.ko" || fail "cannot load xt_NETMAP"
bring_up
# With BENCH_XFRM_MONITOR=1, a listener on every xfrm group in each home
# box, as `ip xfrm monitor` left running by an operator: the kernel then
# sends an SA event (XFRM_MSG_NEWAE) every couple of packets per SA.
if [ "${BENCH_XFRM_MONITOR:-0}" = 1 ]; then
	for t in "${TOOLS[@]}"; do
		ip netns exec "$(prefix "$t")-home" ip xfrm monitor >/dev/null 2>&1 &
	done
	say "ip xfrm monitor runs in each home box"
fi
# A namespace with no policy: xnatctl restore of mappings to absent
# policies (inactive mappings), for comparison with the realistic case.
netns_create xa
say "three copies of the topology are up"

# Is each copy's path sound?  One mapped flow each, checked at the office.
make_files 1
for t in "${TOOLS[@]}"; do
	install "$t" 1 >/dev/null
	flows "$(prefix "$t")" "$OFFICE_HOST" office new
	clear_tool "$t"
	install "$t" in-1 >/dev/null
	flows "$(prefix "$t")" "$M1" lan new office
	clear_tool "$t"
done
say "NAT through the tunnel works in the three copies, both ways"

maxn=${NS[-1]}
have=1
for n in "${NS[@]}"; do
	t0=$(usecs)
	for p in x i n; do
		policies_batch "$have" "$n" | run_in "$p-home" ip -batch - || fail "adding policies in $p-home"
	done
	have=$n
	make_files "$n"
	say "N=$n: $n out policies in each home box ($(secs $(($(usecs) - t0)) | cut -c1-5) s to add them)"
	for ((r = 1; r <= ROUNDS; r++)); do
		for ((j = 0; j < ${#TOOLS[@]}; j++)); do
			t=${TOOLS[(r - 1 + j) % ${#TOOLS[@]}]}
			p=$(prefix "$t")
			ti=$(install "$t" "$n")
			if [ "$r" = 1 ]; then
				got=$(loaded "$t")
				[ "$got" = "$n" ] || fail "$t: $got loaded, not $n"
			fi
			td=$(dump "$t")
			flows "$p" "$OFFICE_HOST" office new
			t1=$(add_one "$t")
			sample install_s "$t" "$n" "$r" "$ti"
			sample dump_s "$t" "$n" "$r" "$td"
			sample add_one_s "$t" "$n" "$r" "$t1"
			sample flows_per_s "$t" "$n" "$r" "$RATE" "$SENT" "$RECV" "$DUR"
			say "N=$n round $r $t: install $ti s, dump $td s, add one $t1 s, new NATed flows $RATE/s (sent $SENT, received $RECV in ${DUR%???} s)"
			[ "$n" != "$maxn" ] || unmapped "$t" "$t" "$n" "$r"
			clear_tool "$t"
			install "$t" "in-$n" >/dev/null
			flows "$p" "$M1" lan new office
			sample inbound_flows_per_s "$t" "$n" "$r" "$RATE" "$SENT" "$RECV" "$DUR"
			say "N=$n round $r $t: inbound new flows $RATE/s (office -> $M1, sent $SENT, received $RECV at $L1 in ${DUR%???} s)"
			clear_tool "$t"
		done
		ta=$(timed xa "$XNAT_CTL" restore "$XNAT_TMP/xnat-$n.conf")
		sample install_absent_s xfrm-nat "$n" "$r" "$ta"
		run_in xa "$XNAT_CTL" flush
		say "N=$n round $r xfrm-nat restore to absent policies: $ta s"
		if [ "$n" = "$maxn" ]; then
			unmapped xfrm-nat xfrm-nat 0 "$r"
			unmapped none none 0 "$r"
		fi
	done
done
[ "$PART" = flows ] || children_run
say "done"
