#!/usr/bin/env bash
# The in-VM set-up shared by bench.sh (time) and insns.sh (instructions):
# three copies of the reference scenario's topology (tests/howto.sh), the
# configuration files for N, and the measures.  Sourced with `out` (the
# results directory, holding bin/ and bench.env) and BENCH_DIR
# (tests/bench) set.
# shellcheck disable=SC2154
. "$BENCH_DIR/../lib.sh"
. "$BENCH_DIR/../howto.sh"
. "$BENCH_DIR/../netmap.sh"
# shellcheck disable=SC1091
[ ! -f "$out/bench.env" ] || . "$out/bench.env"
SECS=${BENCH_SECONDS:-2}
ROUNDS=${BENCH_ROUNDS:-5}
NS=(${BENCH_NS:-1 100 1000 10000})
TOOLS=(xfrm-nat iptables nft)
FLOWGEN=$out/bin/flowgen
SAMPLES=$out/samples.csv
T_START=$EPOCHREALTIME

require_root
require_cmd ip nft iptables iptables-restore awk
require_module
require_ctl
[ -x "$FLOWGEN" ] || fail "no $FLOWGEN (tests/bench/run.sh builds it)"
tmpdir
howto_vars 4
# FROM_NET, the LAN prefix, and TO_NET, the tunnel's prefix it maps to 1:1;
# L1 in the one, M1 in the other, with the same host part.
netmap_vars 4
# L1 is a second address of the LAN host: pinned to the LAN host's MAC.
# shellcheck disable=SC2034 # howto_neigh_line reads it by name
MAC_L1=$MAC_LAN_HOST

elapsed() { printf '%4d s' $(((${EPOCHREALTIME/./} - ${T_START/./}) / 1000000)); }
say() { printf '[bench %s] %s\n' "$(elapsed)" "$*"; }

# ---------------------------------------------------------------- topology

# Under TCG a process start costs about 0.1-0.2 s: the set-up goes through
# `ip -batch` and the measures read counters without starting any.

# The load is one-way UDP, which never confirms a neighbour, so learned
# entries would go stale and be probed again in the middle of a window
# (neigh_resolve_output in the counts), in each copy of the topology at its
# own times: every neighbour entry is pinned (howto_neigh_line).

# topo P: the five namespaces of tests/howto.sh (howto_net) as P-lan,
# P-home, P-router, P-gw, P-office, with the static SAs and the policy
# pairs of tests/howto.sh, their source selector widened from $MAPPED/32 to
# $TO_NET as in tests/netmap.sh, so that the office can also start flows
# to the LAN's 1:1 alias (the inbound figure); the LAN host also holds
# $L1.  UDP sinks on port 5001 at the office host, the router and the LAN
# host.
topo() {
	local p=$1 ns d
	howto_net 4 "" "$p"
	local pol="proto esp reqid 1 mode tunnel" sas
	sas="xfrm state add src $HOME_WAN dst $GW_WAN proto esp spi 0x1000 reqid 1 mode tunnel aead rfc4106(gcm(aes)) $KEY_OUT 128
xfrm state add src $GW_WAN dst $HOME_WAN proto esp spi 0x2000 reqid 1 mode tunnel aead rfc4106(gcm(aes)) $KEY_IN 128"
	{
		howto_neigh_line eth0 LAN_GW
		echo "addr add $L1/$PLEN dev eth0"
	} | ip -n "$p-lan" -batch - || fail "topology $p: lan"
	{
		howto_neigh_line r-home HOME_WAN
		howto_neigh_line r-gw GW_WAN
	} | ip -n "$p-router" -batch - || fail "topology $p: router"
	howto_neigh_line eth0 OFFICE_GW | ip -n "$p-office" -batch - || fail "topology $p: office"
	{
		howto_neigh_line lan0 LAN_HOST
		howto_neigh_line lan0 L1
		howto_neigh_line wan0 ROUTER_HOME
		echo "$sas"
		echo "xfrm policy add src $TO_NET dst $OFFICE_NET dir out index $SPID tmpl src $HOME_WAN dst $GW_WAN $pol"
		echo "xfrm policy add src $ONE_MORE_SRC/32 dst $ONE_MORE_DST dir out index $ONE_MORE_SPID tmpl src $HOME_WAN dst $GW_WAN $pol"
		for d in in fwd; do echo "xfrm policy add src $OFFICE_NET dst $TO_NET dir $d tmpl src $GW_WAN dst $HOME_WAN $pol"; done
	} | ip -n "$p-home" -batch - || fail "topology $p: home"
	{
		howto_neigh_line wan0 ROUTER_GW
		howto_neigh_line lan0 OFFICE_HOST
		echo "$sas"
		for d in in fwd; do echo "xfrm policy add src $TO_NET dst $OFFICE_NET dir $d tmpl src $HOME_WAN dst $GW_WAN $pol"; done
		echo "xfrm policy add src $OFFICE_NET dst $TO_NET dir out tmpl src $GW_WAN dst $HOME_WAN $pol"
	} | ip -n "$p-gw" -batch - || fail "topology $p: gw"
	# Unreplied UDP entries go after 5 s (default 30), so that the
	# conntrack table of one round does not weigh on the next.
	run_in "$p-home" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=5
	for ns in office router lan; do
		ip netns exec "$p-$ns" "$FLOWGEN" sink 5001 >/dev/null &
		SINK[$p-$ns]=$!
	done
	SPORT[$p-lan]=0 SPORT[$p-office]=0
}

# Policy k >= 1 of the N: index, NAT address, destination network.
# k = 0 is the reference scenario's policy 305 ($TO_NET -> 10.0.0.0/8).
policies_batch() { # FROM TO: `ip -batch` lines for k in [FROM, TO)
	awk -v a="$1" -v b="$2" -v s="$HOME_WAN" -v d="$GW_WAN" 'BEGIN {
		for (k = (a < 1 ? 1 : a); k < b; k++)
			printf "xfrm policy add src 100.64.%d.%d/32 dst 11.%d.%d.0/24 dir out index %d tmpl src %s dst %s proto esp reqid 1 mode tunnel\n",
				int(k / 256), k % 256, int(k / 256), k % 256, 8 * (1000 + k) + 1, s, d }'
}

# The configuration files for N, by key (install's KEY): N, the N-1 others
# and policy 305's source NAT to $MAPPED; in-N, the N-1 others and the
# inbound 1:1 mapping of $FROM_NET to $TO_NET on policy 305 (iptables: the
# NETMAP pair, nft: its prefix NAT equivalent) instead.
make_files() {
	local n=$1 in
	for in in 0 1; do
		make_file_set "$n" "$in" "$([ "$in" = 0 ] && echo "$n" || echo "in-$n")"
	done
}
make_file_set() { # N INBOUND KEY
	local v=(-v n="$1" -v inbound="$2" -v spid="$SPID" -v m="$MAPPED" -v net="$OFFICE_NET" -v from="$FROM_NET" -v to="$TO_NET")
	awk "${v[@]}" 'BEGIN {
		for (k = 1; k < n; k++) printf "map spid=%d to 100.64.%d.%d\n", 8 * (1000 + k) + 1, int(k / 256), k % 256
		if (inbound) printf "map spid=%d from %s to %s inbound\n", spid, from, to
		else printf "map spid=%d to %s\n", spid, m }' >"$XNAT_TMP/xnat-$3.conf"
	awk "${v[@]}" 'BEGIN {
		print "*nat"; print ":PREROUTING ACCEPT [0:0]"; print ":INPUT ACCEPT [0:0]"
		print ":OUTPUT ACCEPT [0:0]"; print ":POSTROUTING ACCEPT [0:0]"
		if (inbound) printf "-A PREROUTING -d %s -j NETMAP --to %s\n", to, from
		for (k = 1; k < n; k++)
			printf "-A POSTROUTING -d 11.%d.%d.0/24 -j SNAT --to-source 100.64.%d.%d\n", int(k / 256), k % 256, int(k / 256), k % 256
		if (inbound) printf "-A POSTROUTING -s %s -d %s -j NETMAP --to %s\n", from, net, to
		else printf "-A POSTROUTING -d %s -j SNAT --to-source %s\n", net, m
		print "COMMIT" }' >"$XNAT_TMP/ipt-$3.rules"
	awk "${v[@]}" 'BEGIN {
		print "table ip bench {"
		print "\tmap snat_by_dst {"; print "\t\ttype ipv4_addr : ipv4_addr"; print "\t\tflags interval"
		sep = "\t\telements = {"
		for (k = 1; k < n; k++) { printf "%s 11.%d.%d.0/24 : 100.64.%d.%d", sep, int(k / 256), k % 256, int(k / 256), k % 256; sep = ",\n" }
		if (!inbound) { printf "%s %s : %s", sep, net, m; sep = "," }
		if (sep != "\t\telements = {") print " }"
		print "\t}"
		if (inbound) {
			print "\tchain pre {"; print "\t\ttype nat hook prerouting priority dstnat; policy accept;"
			printf "\t\tip daddr %s dnat ip prefix to %s\n", to, from; print "\t}"
		}
		print "\tchain post {"; print "\t\ttype nat hook postrouting priority srcnat; policy accept;"
		if (inbound) printf "\t\tip saddr %s ip daddr %s snat ip prefix to %s\n", from, net, to
		print "\t\tsnat ip to ip daddr map @snat_by_dst"; print "\t}"; print "}" }' >"$XNAT_TMP/nft-$3.nft"
}

# bring_up: the module loaded and the three copies of the topology up,
# their sinks listening.
bring_up() {
	# Room for the entries of a round (up to ~100,000 live, and expired
	# ones until the garbage collector gets to them), in short hash chains.
	sysctl -qw net.netfilter.nf_conntrack_max=1048576 net.netfilter.nf_conntrack_buckets=262144
	load_module
	declare -gA SPORT=() SINK=()
	local p ns
	for p in x i n; do topo "$p"; done
	for ns in "${!SINK[@]}"; do
		wait_for 30 "the sink in $ns" sink_in "$ns"
	done
}
# The sinks' /proc/PID/net is their namespace's once ip netns exec has
# entered it.
sink_in() { [ "$(stat -Lc %i "/proc/${SINK[$1]}/ns/net")" = "$(stat -Lc %i "/run/netns/$1")" ]; }

# ---------------------------------------------------------------- measures

# usecs: $EPOCHREALTIME in microseconds; secs US: microseconds as seconds.
usecs() { echo "${EPOCHREALTIME/./}"; }
secs() { printf '%d.%06d' $(($1 / 1000000)) $(($1 % 1000000)); }

# timed NS CMD...: seconds CMD took in NS (the namespace switch and the
# shell are outside the measured span).  Fails if CMD fails.
timed() {
	local ns=$1
	shift
	run_in "$ns" bash -c 's=${EPOCHREALTIME/./}; "$@" >/dev/null || exit 1; e=${EPOCHREALTIME/./}
		printf "%d.%06d\n" $(((e - s) / 1000000)) $(((e - s) % 1000000))' timed "$@" ||
		fail "in $ns: $* failed"
}

# Tool-specific steps; P is the tool's copy of the topology.
prefix() { case $1 in xfrm-nat) echo x ;; iptables) echo i ;; nft | none) echo n ;; esac; }
install() { # TOOL KEY (make_files): prints the seconds
	case $1 in
	xfrm-nat) timed x-home "$XNAT_CTL" restore "$XNAT_TMP/xnat-$2.conf" ;;
	iptables) timed i-home iptables-restore "$XNAT_TMP/ipt-$2.rules" ;;
	nft) timed n-home nft -f "$XNAT_TMP/nft-$2.nft" ;;
	esac
}
dump() {
	case $1 in
	xfrm-nat) timed x-home "$XNAT_CTL" show ;;
	iptables) timed i-home iptables -t nat -S ;;
	nft) timed n-home nft list ruleset ;;
	esac
}
# One mapping, rule or element more than the N, added to them: its
# policy (outside the N's indexes and networks) is in every home box.
ONE_MORE_SPID=7993 ONE_MORE_SRC=100.127.0.1 ONE_MORE_DST=12.0.0.0/24
add_one() { # TOOL: prints the seconds
	case $1 in
	xfrm-nat) timed x-home "$XNAT_CTL" map "spid=$ONE_MORE_SPID" to "$ONE_MORE_SRC" ;;
	iptables) timed i-home iptables -t nat -A POSTROUTING -d "$ONE_MORE_DST" -j SNAT --to-source "$ONE_MORE_SRC" ;;
	nft) timed n-home nft add element ip bench snat_by_dst "{ $ONE_MORE_DST : $ONE_MORE_SRC }" ;;
	esac
}
# clear TOOL: back to no mapping, rule or table (xfrm-nat keeps its hooks).
clear_tool() {
	case $1 in
	xfrm-nat) run_in x-home "$XNAT_CTL" flush ;;
	iptables) run_in i-home nft flush ruleset ;;
	nft) run_in n-home nft flush ruleset ;;
	esac
}
# loaded TOOL: how many mappings/rules/elements the kernel holds.
loaded() {
	case $1 in
	xfrm-nat) run_in x-home "$XNAT_CTL" save | grep -c '^map' ;;
	iptables) run_in i-home iptables -t nat -S POSTROUTING | grep -c -- '-j SNAT' ;;
	nft) run_in n-home nft list map ip bench snat_by_dst | grep -v 'type ' | grep -o ' : ' | wc -l ;;
	esac
}

# udp_rx NS: sets RX to the UDP datagrams that reached NS (delivered,
# dropped at a full socket, or to no socket), from the counters that its
# sink process sees (/proc/PID/net is the process's namespace's).
udp_rx() {
	local -a f h=() v=()
	local i
	while read -ra f; do
		[ "${f[0]}" = Udp: ] || continue
		if [ ${#h[@]} = 0 ]; then h=("${f[@]}"); else v=("${f[@]}"); fi
	done <"/proc/${SINK[$1]}/net/snmp"
	RX=0
	for i in "${!h[@]}"; do
		case ${h[i]} in InDatagrams | InErrors | NoPorts) RX=$((RX + v[i])) ;; esac
	done
}

# send P DST SECS MODE [FROM]: the host P-FROM (default lan, the LAN host)
# sends to DST:5001 (new flows: to 5001-5004); sets SENT, DUR (in
# microseconds) and SPORT[P-FROM], where its next new flow starts in
# flowgen's cycle of tuples.
send() {
	local o w from=$1-${5:-lan}
	o=$(run_in "$from" "$FLOWGEN" send "$2" 5001 "$3" "$4" "${SPORT[$from]}")
	read -r w SENT w w w DUR w "SPORT[$from]" w <<<"$o"
	DUR=${DUR/./}000
	DUR=$((10#$DUR))
	case $o in *errno*) say "  sender errors ($from $2 $4): $o" ;; esac
}

# flows P DST RECV MODE [FROM]: a warm-up of 0.3 s, then SECS seconds of
# P-FROM (default the LAN host) sending to DST, counted at P-RECV (MODE
# new: a new flow per datagram; one: one flow); sets RATE (datagrams
# received per second), SENT, RECV, DUR.
flows() {
	local p=$1 dst=$2 recv=$3 mode=$4 from=${5:-lan} b
	send "$p" "$dst" 0.3 "$mode" "$from"
	sleep 0.2
	udp_rx "$p-$recv"
	b=$RX
	send "$p" "$dst" "$SECS" "$mode" "$from"
	sleep 0.3
	udp_rx "$p-$recv"
	RECV=$((RX - b))
	RATE=$((RECV * 1000000 / DUR))
	DUR=$(secs "$DUR")
	[ "$RECV" -gt 0 ] || fail "no datagram of $p-$from -> $dst reached $p-$recv (sent $SENT): setup broken"
}

# sample MEASURE TOOL N ROUND VALUE [SENT RECV SECONDS]
sample() {
	echo "$1,$2,$3,$4,$5,${6:-},${7:-},${8:-}" >>"$SAMPLES"
}

# unmapped TOOL LABEL N ROUND: new flows/s and one flow's packets/s from the
# LAN host to the router (no policy, no mapping, no rule matches).
unmapped() {
	local p
	p=$(prefix "$1")
	flows "$p" "$ROUTER_HOME" router new
	sample unmapped_new_per_s "$2" "$3" "$4" "$RATE" "$SENT" "$RECV" "$DUR"
	local r1=$RATE
	flows "$p" "$ROUTER_HOME" router one
	sample unmapped_one_pps "$2" "$3" "$4" "$RATE" "$SENT" "$RECV" "$DUR"
	say "  unmapped, $2 at $3: new flows $r1/s, one flow $RATE pkt/s"
}

