#!/usr/bin/env bash
# "10,000 children up at once", sourced by bench.sh in the VM: a VPN
# concentrator whose IKE daemon brings back all its road warriors' children
# at once (after a restart), each of which needs its mapping, against the
# same churn of nftables map elements.
#
# Each of the two namespaces (cx for xfrm-nat, cn for nft) has N (default
# BENCH_CHILDREN=10000) out policies, installed with `ip -batch`: child k
# (1..N) is reqid k, a tunnel to the road warrior 198.18.x.y, selecting
# 100.64.0.0/10 (local_ts) -> its virtual IP 10.128.x.y/32 (x.y: k in base
# 256).  Its mapping is "map reqid=k [name rw-k] to 100.64.x.y"; nft's
# element is "10.128.x.y : 100.64.x.y" in the map of a rule
# "snat ip to ip daddr map @rw".  Per round (BENCH_CHILDREN_ROUNDS, default
# 1), each tool in turn:
#   one by one   xfrm-nat: N map-new requests, one per child, each waiting
#                for its ack, over one netlink socket (mapchurn.c), as a
#                daemon following IKE events sends them; nft: N `add
#                element` commands, each its own transaction (nft -i reads
#                its input line by line and commits each line), in
#                N/1000 processes of 1,000.  Then the same to unmap them
#                (map-del; `delete element`).  The time of each thousand
#                shows whether one request costs O(n) in the table size
#                (growing from thousand to thousand) or O(log n) (flat).
#   all in one   xfrm-nat: one map-set of the N (xnatctl restore), as a
#                daemon that batches a burst of events sends it; nft:
#                one `nft -f` of the N add element commands.
# The time until bound runs until xnatctl -j show reports the N mappings
# active (nft list map: N elements); that last check is part of it.
# Named mappings (`name rw-k`) where the generated uapi has the name
# attribute (run.sh writes CHILDREN_NAMED to bench.env), unnamed before.
# shellcheck disable=SC2154 # out, XNAT_TMP and the helpers: bench.sh, common.sh

CHILDREN=${BENCH_CHILDREN:-10000}
CHILDREN_ROUNDS=${BENCH_CHILDREN_ROUNDS:-1}
CHILDREN_STEP=1000
MAPCHURN=$out/bin/mapchurn

# children_files: the policies, the mappings (mapchurn's lines and a
# restore file), the reqids to unmap, and nft's element commands, in
# chunks of CHILDREN_STEP lines (one nft -i process each).
children_files() {
	local v=(-v n="$CHILDREN" -v named="${CHILDREN_NAMED:-0}" -v d="$XNAT_TMP/children")
	mkdir -p "$XNAT_TMP/children"
	awk "${v[@]}" -v step="$CHILDREN_STEP" 'BEGIN {
		for (k = 1; k <= n; k++) {
			hi = int(k / 256); lo = k % 256
			printf "xfrm policy add src 100.64.0.0/10 dst 10.128.%d.%d/32 dir out tmpl src 192.0.2.1 dst 198.18.%d.%d proto esp reqid %d mode tunnel\n",
				hi, lo, hi, lo, k > d "/policies"
			name = named ? " rw-" k : ""
			printf "%d 100.64.%d.%d%s\n", k, hi, lo, name > d "/mapchurn"
			printf "map reqid=%d%s to 100.64.%d.%d\n", k, named ? " name" name : "", hi, lo > d "/restore.conf"
			print k > d "/unmap"
			chunk = sprintf("%s/%05d", d, int((k - 1) / step) + 1)
			printf "add element ip churn rw { 10.128.%d.%d : 100.64.%d.%d }\n", hi, lo, hi, lo > chunk ".add"
			printf "delete element ip churn rw { 10.128.%d.%d }\n", hi, lo > chunk ".del"
			printf "add element ip churn rw { 10.128.%d.%d : 100.64.%d.%d }\n", hi, lo, hi, lo > d "/all.nft"
		} }'
	printf '%s\n' 'table ip churn {' '	map rw {' '		type ipv4_addr : ipv4_addr' '	}' \
		'	chain post {' '		type nat hook postrouting priority srcnat; policy accept;' \
		'		snat ip to ip daddr map @rw' '	}' '}' >"$XNAT_TMP/children/table.nft"
}

# children_bound TOOL: how many mappings are active (xfrm-nat) or elements
# in the map (nft).
children_bound() {
	case $1 in
	xfrm-nat) run_in cx "$XNAT_CTL" -j show | grep -o '"state":"active"' | wc -l ;;
	nft) run_in cn nft list map ip churn rw | grep -v 'type ' | grep -o ' : ' | wc -l ;;
	esac
}

# children_confirm TOOL WANT: sets CONFIRM_S to the seconds that the check
# that WANT children are bound takes; fails the run if they are not.
children_confirm() {
	local check ns=cx
	# shellcheck disable=SC2016 # expanded by the bash that timed starts
	case $1 in
	xfrm-nat) check='[ "$("$2" -j show | grep -o "\"state\":\"active\"" | wc -l)" = "$1" ]' ;;
	nft) check='[ "$(nft list map ip churn rw | grep -v "type " | grep -o " : " | wc -l)" = "$1" ]' ns=cn ;;
	esac
	CONFIRM_S=$(timed "$ns" bash -c "$check" confirm "$2" "$XNAT_CTL") ||
		fail "$1: $(children_bound "$1") children bound, not $2"
}

# sum_secs SECONDS...: their sum.
sum_secs() { awk 'BEGIN { for (i = 1; i < ARGC; i++) s += ARGV[i]; printf "%.6f", s }' "$@"; }

# children_steps TOOL ROUND DIRECTION: one request per child (DIRECTION up:
# map, down: unmap), each thousand's seconds as samples; sets STEPS_S to
# their sum.
children_steps() {
	local tool=$1 round=$2 dir=$3 done=0 at s prev=0 f what=map input=$XNAT_TMP/children/mapchurn
	STEPS_S=0
	if [ "$tool" = xfrm-nat ]; then
		[ "$dir" = up ] || what=unmap input=$XNAT_TMP/children/unmap
		# mapchurn prints "DONE SECONDS" after each thousand, and its
		# refusal on stderr; its failure ends the lines with "failed".
		while read -r at s; do
			[ "$at" != failed ] || fail "mapchurn $what failed after $done requests"
			sample "children_per_thousand_${dir}_s" "$tool" "$at" "$round" "$(sum_secs "$s" "-$prev")"
			done=$at prev=$s
		done < <(run_in cx "$MAPCHURN" "$what" "$CHILDREN_STEP" <"$input" || echo failed)
		[ "$done" = "$CHILDREN" ] || fail "mapchurn $what: $done requests, not $CHILDREN"
		STEPS_S=$prev
		return
	fi
	[ "$dir" = up ] && what=add || what=del
	for f in "$XNAT_TMP"/children/*."$what"; do
		done=$((done + $(wc -l <"$f")))
		s=$(timed cn nft -i <"$f") || fail "nft -i <$f failed"
		sample "children_per_thousand_${dir}_s" "$tool" "$done" "$round" "$s"
		STEPS_S=$(sum_secs "$STEPS_S" "$s")
	done
}

children_round() { # TOOL ROUND
	local tool=$1 r=$2 req up
	if [ "$tool" = nft ]; then
		run_in cn nft -f "$XNAT_TMP/children/table.nft" || fail "nft: the churn table"
	fi
	children_steps "$tool" "$r" up
	children_confirm "$tool" "$CHILDREN"
	up=$(sum_secs "$STEPS_S" "$CONFIRM_S")
	sample children_one_by_one_up_s "$tool" "$CHILDREN" "$r" "$up"
	say "children round $r $tool: one by one, $CHILDREN bound in $up s ($STEPS_S s of requests, $CONFIRM_S s to confirm)"
	children_steps "$tool" "$r" down
	children_confirm "$tool" 0
	sample children_one_by_one_down_s "$tool" "$CHILDREN" "$r" "$STEPS_S"
	say "children round $r $tool: one by one, $CHILDREN unbound in $STEPS_S s of requests ($CONFIRM_S s to confirm)"
	if [ "$tool" = xfrm-nat ]; then
		req=$(timed cx "$XNAT_CTL" restore "$XNAT_TMP/children/restore.conf") || fail "xnatctl restore of the children failed"
	else
		req=$(timed cn nft -f "$XNAT_TMP/children/all.nft") || fail "nft -f of the children failed"
	fi
	children_confirm "$tool" "$CHILDREN"
	up=$(sum_secs "$req" "$CONFIRM_S")
	sample children_all_in_one_up_s "$tool" "$CHILDREN" "$r" "$up"
	say "children round $r $tool: all in one request, $CHILDREN bound in $up s ($req s for the request, $CONFIRM_S s to confirm)"
	if [ "$tool" = xfrm-nat ]; then run_in cx "$XNAT_CTL" flush; else run_in cn nft flush ruleset; fi
}

children_run() {
	local t0 p r j tools=(xfrm-nat nft)
	[ -x "$MAPCHURN" ] || fail "no $MAPCHURN (tests/bench/run.sh builds it)"
	module_loaded || load_module
	netns_create cx cn
	{
		echo "children=$CHILDREN"
		echo "children_rounds=$CHILDREN_ROUNDS"
		echo "children_named=${CHILDREN_NAMED:-0}"
	} >>"$out/meta.txt"
	children_files
	t0=$(usecs)
	for p in cx cn; do
		run_in "$p" ip -batch "$XNAT_TMP/children/policies" || fail "adding the children's policies in $p"
	done
	say "children: $CHILDREN out policies, one reqid each, in each of cx and cn ($(secs $(($(usecs) - t0)) | cut -c1-5) s to add them);" \
		"mappings $([ "${CHILDREN_NAMED:-0}" = 1 ] && echo named rw-k || echo "without names (no name attribute in this uapi)")"
	# The per-thousand nft figures include the start of one nft process.
	sample children_nft_start_s nft 0 1 "$(timed cn nft -i </dev/null)"
	for ((r = 1; r <= CHILDREN_ROUNDS; r++)); do
		for ((j = 0; j < ${#tools[@]}; j++)); do
			children_round "${tools[(r - 1 + j) % ${#tools[@]}]}" "$r"
		done
	done
}
