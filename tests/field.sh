# shellcheck shell=bash
# Field cases of the packet path (tests/vm/54-*.sh to 60-*.sh): a new flow
# is translated only when the SPD, asked as the packet will be asked after
# NAT (translated source, post-DNAT destination, mark, the socket's own
# policy, the if_id of the xfrm interface it leaves by), chooses a policy
# the mapping binds.  Flows the mapping's selectors cover that the SPD gives
# to another policy, or to none, are left as they are and counted as
# `declined`.
#
# Built on howto.sh's topology (howto_net, howto_sas, howto_servers), with
# the policies each case needs.  Source after lib.sh; it sources howto.sh.

# shellcheck source=tests/howto.sh
. "$REPO/tests/howto.sh"

# field_require [CMD...]: root, ip, tcpdump, python3 and CMDs, the module
# and the CLI.
field_require() {
	require_root
	require_cmd ip tcpdump python3 "$@"
	require_module
	require_ctl
}

# field_net FAMILY: howto's namespaces, links, routes and reqid 1 SAs, the
# office's servers; no policies.  Sets LAN_NET.
field_net() {
	howto_net "$1"
	case $1 in 4) LAN_NET=192.168.1.0/24 ;; *) LAN_NET=fd00:1::/64 ;; esac
	howto_sas
	howto_servers
}

# home_out SRC DST REQID [ARG...]: an out policy of the home box into the
# tunnel to the office gateway of REQID's SAs; ARGs (index, priority, mark,
# if_id) go before the template.
home_out() {
	local src=$1 dst=$2 reqid=$3
	shift 3
	run_in home ip xfrm policy add src "$src" dst "$dst" dir out "$@" \
		tmpl src "$HOME_WAN" dst "$GW_WAN" proto esp reqid "$reqid" mode tunnel
}

# field_tunnel SRC DST REQID [ARG...]: the whole SPD of a tunnel for the
# flows SRC -> DST: home's out policy (with ARGs) and the return policies.
field_tunnel() {
	home_out "$@"
	howto_return_policies "$1" "$2" "$3"
}

# policies_flush: no policy left on either gateway (after a check of the
# plumbing with policies of its own).
policies_flush() {
	run_in home ip xfrm policy flush
	run_in gw ip xfrm policy flush
}

# office_src TAG: the sources the office host logged for TAG (comma-separated).
office_src() {
	awk -v t="$1" '$3 == t { print $2 }' "$XNAT_TMP/office.log" | sort -u | paste -sd, -
}

# send_expect NS PROTO HOST TAG WANT [PORT]: a UDP or TCP exchange from NS
# (port 5001 or 5002 unless PORT) that must not be answered: the client's
# output contains WANT ("timeout", "errno ENETUNREACH").  Sets $out.
send_expect() {
	local ns=$1 proto=$2 host=$3 tag=$4 want=$5 port=${6:-5001}
	[ -n "${6:-}" ] || [ "$proto" != tcp ] || port=5002
	out=$(run_in "$ns" $PEER "$proto-send" "$host" "$port" "$tag" --timeout 2 2>&1) &&
		fail "$proto from $ns to $host:$port ('$tag') was answered: $out"
	assert_contains "$out" "$want" "$proto from $ns to $host:$port ('$tag')"
}

# no_plaintext CAPTURE ADDR...: no packet outside ESP to or from ADDRs in
# the capture.
no_plaintext() {
	local name=$1 f a
	shift
	f="not esp and ("
	for a in "$@"; do f+="host $a or "; done
	f="${f% or })"
	[ "$(capture_count "$name" "$f")" = 0 ] ||
		fail "plaintext on the WAN ($name): $(capture_show "$name" "$f" | head -n 20)"
}

# field_counters_ok [DECLINED_MIN]: the mapping of $SPID declined at least
# DECLINED_MIN flows (default 1) and dropped none as fail-closed.  Last in a
# test: the counters are the fix's, the packets' fate comes first.
field_counters_ok() {
	xnat show
	assert_eq 0 "$(mapping_field "$SPID" fail_closed_drops)" "fail-closed drops"
	assert_ge "${1:-1}" "$(mapping_field "$SPID" declined)" "flows declined by the mapping"
}

ct_count_ge() { [ "$(ct_count home)" -ge "$1" ]; }

# preexisting_scenario FAMILY: a ping from the LAN, started before the first
# mapping while a filter-only ruleset keeps conntrack running in the home
# box, reaches the office from $MAPPED within 3 s of `xnatctl map`.
preexisting_scenario() {
	local fam=$1 icmp=icmp echo="icmp[icmptype] == icmp-echo" t ping_pid
	[ "$fam" = 4 ] || icmp=icmp6 echo="icmp6 and ip6[40] == 128"
	howto_setup "$fam"
	run_in home nft -f - <<EOF2
table inet f {
	chain c {
		type filter hook forward priority 0; policy accept;
		ct state established,related accept
	}
}
EOF2
	load_module

	log "IPv$fam: a ping from the LAN before the first mapping: conntrack confirms its entry, untranslated"
	run_in lan ping -D -n -i 0.2 -c 300 "$OFFICE_HOST" >"$XNAT_TMP/ping.out" 2>&1 &
	ping_pid=$!
	on_exit "kill $ping_pid 2>/dev/null"
	wait_for 30 "the ping's conntrack entry" ct_count_ge 1
	sleep 1
	assert_eq 0 "$(ping_replies_after 0 "$XNAT_TMP/ping.out")" "ping replies before the mapping"

	capture_start office eth0 office "$icmp"
	capture_start router r-home wan
	t=$(date +%s.%N)
	xnat map "spid=$SPID" to "$MAPPED"
	log "mapped: within 3 s the ping's requests reach the office from $MAPPED, and its replies the LAN"
	wait_for 3 "ping replies at the LAN after the mapping" ping_replies_after_ge "$t" "$XNAT_TMP/ping.out" 1
	wait_for 10 "3 ping replies" ping_replies_after_ge "$t" "$XNAT_TMP/ping.out" 3
	kill "$ping_pid" 2>/dev/null || true
	capture_stop office
	capture_stop wan
	assert_ge 3 "$(capture_count office "$echo and src host $MAPPED")" "echo requests from $MAPPED at the office"
	assert_eq 0 "$(capture_count office "$echo and not src host $MAPPED")" "echo requests from other sources at the office"
	assert_ge 6 "$(capture_count wan "esp and host $GW_WAN")" "ESP packets on the WAN"
	# (The ping's requests before the mapping went out in plaintext.)
	no_plaintext wan "$MAPPED"

	xnat show
	assert_eq 0 "$(mapping_field "$SPID" fail_closed_drops)" "fail-closed drops"
	assert_ge 1 "$(mapping_field "$SPID" stale_entries)" "stale conntrack entries removed"
}
