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
