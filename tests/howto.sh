# shellcheck shell=bash
# The HOWTO's topology (../shared/seed): a home worker's LAN and home box,
# a router standing for the Internet, the office gateway and an office host.
#
#   lan --- home ===(WAN)=== router ===(WAN)=== gw --- office
#           LAN 1  WAN 2.2            100.1.1.1    office net 10/8
#
# The office host's own link is a /24 inside 10/8, so that it sends replies
# for 10.20.30.2 to its gateway rather than looking for it on the link.
#
# howto_setup FAMILY (4 or 6) builds it with static SAs and the policies of
# the HOWTO: out policy index $SPID "$MAPPED/32 -> office net" from home, ESP
# tunnel $HOME_WAN <-> $GW_WAN.  Captures on the router see only the outer
# packets, so they show what really crosses the Internet.
# Source after lib.sh.

PEER="python3 $REPO/tests/tools/peer.py"

howto_vars() {
	case $1 in
	4)
		FAM=4 PLEN=24 HOSTLEN=32
		LAN_HOST=192.168.1.10 LAN_GW=192.168.1.1
		HOME_WAN=200.2.2.2 ROUTER_HOME=200.2.2.1
		GW_WAN=100.1.1.1 ROUTER_GW=100.1.1.254
		OFFICE_NET=10.0.0.0/8 OFFICE_GW=10.0.0.254 OFFICE_HOST=10.0.0.1 OFFICE_PLEN=24
		MAPPED=10.20.30.2 SPID=305
		OTHER_NET=172.16.0.0/16 OTHER_HOST=172.16.0.1 OTHER_GW=172.16.0.254
		;;
	6)
		FAM=6 PLEN=64 HOSTLEN=128
		LAN_HOST=fd00:1::10 LAN_GW=fd00:1::1
		HOME_WAN=2001:db8:2::2 ROUTER_HOME=2001:db8:2::1
		GW_WAN=2001:db8:1::1 ROUTER_GW=2001:db8:1::254
		OFFICE_NET=fd00:10::/48 OFFICE_GW=fd00:10::fe OFFICE_HOST=fd00:10::1 OFFICE_PLEN=48
		MAPPED=fd00:20::2 SPID=313
		OTHER_NET=fd00:30::/48 OTHER_HOST=fd00:30::1 OTHER_GW=fd00:30::fe
		;;
	*) fail "howto_vars: family 4 or 6" ;;
	esac
}

# Keys are fixed: the tests are about addresses, not secrecy.
KEY_OUT=0x0123456789abcdef0123456789abcdef01234567
KEY_IN=0x89abcdef0123456789abcdef0123456789abcdef

howto_setup() {
	howto_vars "$1"
	netns_create lan home router gw office
	veth_pair lan eth0 "$LAN_HOST/$PLEN" home lan0 "$LAN_GW/$PLEN"
	veth_pair home wan0 "$HOME_WAN/$PLEN" router r-home "$ROUTER_HOME/$PLEN"
	veth_pair router r-gw "$ROUTER_GW/$PLEN" gw wan0 "$GW_WAN/$PLEN"
	veth_pair gw lan0 "$OFFICE_GW/$OFFICE_PLEN" office eth0 "$OFFICE_HOST/$OFFICE_PLEN"
	local ns
	for ns in home router gw; do forwarding "$ns"; done
	run_in lan ip -"$FAM" route add default via "$LAN_GW"
	run_in home ip -"$FAM" route add default via "$ROUTER_HOME"
	run_in gw ip -"$FAM" route add default via "$ROUTER_GW"
	run_in office ip -"$FAM" route add default via "$OFFICE_GW"
	# The router knows only the two WAN links: plaintext to the office net
	# has no way through, only ESP between the gateways does.

	# home -> gw SA and its mirror, plus policies on both ends.
	xfrm_pair home "$HOME_WAN" "$GW_WAN" 0x1000 "$KEY_OUT"
	xfrm_pair home "$GW_WAN" "$HOME_WAN" 0x2000 "$KEY_IN"
	xfrm_pair gw "$HOME_WAN" "$GW_WAN" 0x1000 "$KEY_OUT"
	xfrm_pair gw "$GW_WAN" "$HOME_WAN" 0x2000 "$KEY_IN"
	howto_policy_add
	howto_return_policies "$MAPPED/$HOSTLEN" "$OFFICE_NET"

	tmpdir
	run_in office $PEER udp-server 5001 "$XNAT_TMP/office.log" &
	on_exit "kill $!"
	run_in office $PEER tcp-server 5002 "$XNAT_TMP/office.log" &
	on_exit "kill $!"
	touch "$XNAT_TMP/office.log"
	wait_for 30 "the office host's servers" test -e "$XNAT_TMP/office.log.ready-udp5001" -a -e "$XNAT_TMP/office.log.ready-tcp5002"
}

# howto_return_policies SRC DST: the rest of a tunnel's SPD for the flows
# SRC -> DST besides the home box's out policy: home's in and fwd for the
# replies, the office gateway's in, fwd and out.
howto_return_policies() {
	local src=$1 dst=$2 d
	for d in in fwd; do
		run_in home ip xfrm policy add src "$dst" dst "$src" dir "$d" \
			tmpl src "$GW_WAN" dst "$HOME_WAN" proto esp reqid 1 mode tunnel
		run_in gw ip xfrm policy add src "$src" dst "$dst" dir "$d" \
			tmpl src "$HOME_WAN" dst "$GW_WAN" proto esp reqid 1 mode tunnel
	done
	run_in gw ip xfrm policy add src "$dst" dst "$src" dir out \
		tmpl src "$GW_WAN" dst "$HOME_WAN" proto esp reqid 1 mode tunnel
}

# xfrm_pair NS SRC DST SPI KEY: one tunnel-mode ESP SA.
xfrm_pair() {
	run_in "$1" ip xfrm state add src "$2" dst "$3" proto esp spi "$4" reqid 1 \
		mode tunnel aead "rfc4106(gcm(aes))" "$5" 128
}

# The home box's out policy, at index $SPID.
howto_policy_add() {
	run_in home ip xfrm policy add src "$MAPPED/$HOSTLEN" dst "$OFFICE_NET" dir out index "$SPID" \
		tmpl src "$HOME_WAN" dst "$GW_WAN" proto esp reqid 1 mode tunnel
}

howto_policy_del() {
	run_in home ip xfrm policy delete src "$MAPPED/$HOSTLEN" dst "$OFFICE_NET" dir out
}

# sa_packets NS SRC DST SPI: packets the SA has processed.
sa_packets() {
	run_in "$1" ip -s xfrm state get src "$2" dst "$3" proto esp spi "$4" |
		sed -n 's/.*(bytes), \([0-9]*\)(packets).*/\1/p' | head -n1
}

# office_sources: the source addresses the office host's servers saw.
office_sources() {
	awk '{print $2}' "$XNAT_TMP/office.log" | sort -u
}

xnat() { run_in home "$XNAT_CTL" "$@"; }

# mapping_field SPID FIELD: a counter or the state from `xnatctl -j show`.
mapping_field() {
	xnat -j show "spid=$1" | python3 -c '
import json, sys
m = json.load(sys.stdin)[0]
f = sys.argv[1]
print(m["stats"][f] if f in m["stats"] else m[f])' "$2"
}

# exchange NS PROTO TAG: one UDP or TCP exchange with the office host from
# NS; fails the test unless the reply comes back.
exchange() {
	local out port=5001
	[ "$2" = tcp ] && port=5002
	out=$(run_in "$1" $PEER "$2-send" "$OFFICE_HOST" "$port" "$3" --timeout 5 2>&1) ||
		fail "$2 exchange '$3' from $1 to $OFFICE_HOST failed: $out"
	assert_contains "$out" "ok $3" "$2 reply to $1"
}

# howto_scenario FAMILY: the HOWTO end to end, for the tests of both families.
howto_scenario() {
	howto_setup "$1"
	load_module

	log "before the mapping, nothing reaches the office or enters the tunnel"
	capture_start router r-home before
	run_in home ping -n -c1 -W1 "$OFFICE_HOST" >/dev/null 2>&1 && fail "ping reached $OFFICE_HOST without a mapping"
	run_in home $PEER udp-send "$OFFICE_HOST" 5001 before --timeout 1 >/dev/null 2>&1 &&
		fail "UDP reached $OFFICE_HOST without a mapping"
	capture_stop before
	assert_eq 0 "$(capture_count before esp)" "ESP packets before the mapping"
	assert_eq "" "$(office_sources)" "sources seen by the office before the mapping"

	log "map spid=$SPID to $MAPPED"
	xnat map "spid=$SPID" to "$MAPPED"
	assert_eq active "$(mapping_field "$SPID" state)" "mapping state"
	local sa_before
	sa_before=$(sa_packets home "$HOME_WAN" "$GW_WAN" 0x1000)

	capture_start router r-home tunnel
	ping_ok home "$OFFICE_HOST"
	exchange home udp home-udp
	exchange home tcp home-tcp
	ping_ok lan "$OFFICE_HOST"
	exchange lan udp lan-udp
	exchange lan tcp lan-tcp
	capture_stop tunnel

	assert_eq "$MAPPED" "$(office_sources)" "sources seen by the office host"
	assert_eq 4 "$(wc -l <"$XNAT_TMP/office.log")" "exchanges logged by the office host"
	local esp plain
	esp=$(capture_count tunnel "esp and host $HOME_WAN and host $GW_WAN")
	plain=$(capture_count tunnel "host $OFFICE_HOST or host $MAPPED or host $LAN_HOST")
	assert_ge 12 "$esp" "ESP packets between the gateways"
	[ "$plain" = 0 ] || fail "plaintext on the WAN: $(capture_show tunnel "host $OFFICE_HOST or host $MAPPED or host $LAN_HOST")"
	assert_eq 0 "$(capture_count tunnel "not esp and not arp and not icmp6")" "non-ESP packets on the WAN"
	local sa_after
	sa_after=$(sa_packets home "$HOME_WAN" "$GW_WAN" 0x1000)
	assert_ge $((sa_before + 6)) "$sa_after" "packets through the home->office SA"
	assert_ge 6 "$(mapping_field "$SPID" flows)" "flows counted by the mapping"
	assert_eq 0 "$(mapping_field "$SPID" fail_closed_drops)" "fail-closed drops"
	xnat show

	log "after unmap, new flows stay out of the tunnel again"
	xnat unmap "spid=$SPID"
	local lines
	lines=$(wc -l <"$XNAT_TMP/office.log")
	capture_start router r-home after
	run_in home $PEER udp-send "$OFFICE_HOST" 5001 after --timeout 1 >/dev/null 2>&1 &&
		fail "UDP reached $OFFICE_HOST after unmap"
	run_in lan $PEER tcp-send "$OFFICE_HOST" 5002 after --timeout 1 >/dev/null 2>&1 &&
		fail "TCP reached $OFFICE_HOST after unmap"
	capture_stop after
	assert_eq 0 "$(capture_count after esp)" "ESP packets after unmap"
	assert_eq "$lines" "$(wc -l <"$XNAT_TMP/office.log")" "exchanges logged by the office after unmap"
}

live_count() { grep -c "live-$1" "$XNAT_TMP/office.log" || true; }
live_count_ge() { [ "$(live_count "$1")" -ge "$2" ]; }
mapping_state_is() { [ "$(mapping_field "$SPID" state)" = "$1" ]; }
drops_ge() { [ "$(mapping_field "$SPID" fail_closed_drops)" -ge "$1" ]; }

# fail_closed_scenario FAMILY: the mapped policy is deleted under a live
# NATed flow, then re-added with the same index.
fail_closed_scenario() {
	local fam=$1 sender drops plain arrived
	howto_setup "$fam"
	load_module
	xnat map "spid=$SPID" to "$MAPPED"
	exchange home udp "warmup-$fam"

	log "IPv$fam: a live UDP flow, then its policy goes away and comes back"
	capture_start router r-home "wan$fam"
	run_in home $PEER udp-send "$OFFICE_HOST" 5001 "live-$fam" --count 600 --interval 0.05 --keep-going \
		>"$XNAT_TMP/sender$fam.out" 2>&1 &
	sender=$!
	# The flow is established (NATed, in ESP) before the policy goes.
	wait_for 60 "3 datagrams of the live flow at the office" live_count_ge "$fam" 3
	howto_policy_del
	wait_for 30 "the mapping to go inactive" mapping_state_is inactive
	wait_for 30 "5 fail-closed drops" drops_ge 5
	wait_for 30 "EHOSTUNREACH at the sender" grep -q "errno EHOSTUNREACH" "$XNAT_TMP/sender$fam.out"
	drops=$(mapping_field "$SPID" fail_closed_drops)
	arrived=$(live_count "$fam")
	howto_policy_add
	wait_for 30 "the mapping to be active again" mapping_state_is active
	# The same flow (same conntrack entry and binding) resumes in ESP.
	wait_for 60 "the live flow to resume" live_count_ge "$fam" $((arrived + 3))
	kill "$sender" 2>/dev/null || true
	wait "$sender" 2>/dev/null || true
	capture_stop "wan$fam"

	plain=$(capture_count "wan$fam" "host $MAPPED or host $OFFICE_HOST")
	[ "$plain" = 0 ] || fail "plaintext with the NAT source on the WAN: $(capture_show "wan$fam" "host $MAPPED or host $OFFICE_HOST")"
	assert_eq 0 "$(capture_count "wan$fam" "not esp and not arp and not icmp6")" "non-ESP packets on the WAN"
	assert_ge 5 "$drops" "fail-closed drops while the policy was deleted"
	assert_eq "$MAPPED" "$(office_sources)" "sources seen by the office"
	exchange home tcp "new-flow-$fam"
	xnat show

}

# A limit for "at once": 100 ms, ten times that on the debug kernel
# (KASAN, lockdep and kmemleak under TCG).
fast_limit() {
	if [ -e /sys/kernel/debug/kmemleak ]; then echo 1.0; else echo 0.1; fi
}

# pending_scenario FAMILY: the mapped policy has no SA and nothing answers
# ACQUIRE; eagain mode refuses at once, the SA added by hand lets the next
# send through, drop mode drops silently.
pending_scenario() {
	local fam=$1 out secs limit
	howto_setup "$fam"
	run_in home ip xfrm state delete src "$HOME_WAN" dst "$GW_WAN" proto esp spi 0x1000
	load_module
	xnat map "spid=$SPID" to "$MAPPED"
	assert_eq eagain "$(mapping_field "$SPID" pending)" "default pending mode"
	limit=$(fast_limit)

	run_in home ip xfrm monitor acquire >"$XNAT_TMP/acquire.log" 2>&1 &
	on_exit "kill $!"
	sleep 0.5

	log "eagain: UDP sendto fails with EAGAIN on the very call"
	out=$(run_in home $PEER udp-send "$OFFICE_HOST" 5001 pending-udp --timeout 2 2>&1) &&
		fail "UDP send succeeded while the SA is missing: $out"
	assert_contains "$out" "errno EAGAIN" "UDP sendto while the SA is pending"
	wait_for 10 "ACQUIRE for the translated flow" grep -q "acquire" "$XNAT_TMP/acquire.log"
	assert_contains "$(cat "$XNAT_TMP/acquire.log")" "$MAPPED" "ACQUIRE's selector names the mapped source"

	log "eagain: TCP connect fails with EAGAIN at once, blocking and not"
	for how in --timeout=0 --nonblock; do
		out=$(run_in home $PEER tcp-send "$OFFICE_HOST" 5002 pending-tcp "$how" 2>&1) &&
			fail "TCP connect ($how) succeeded while the SA is missing: $out"
		assert_contains "$out" "errno EAGAIN" "TCP connect ($how)"
		secs=${out##* }
		log "connect ($how) failed after $secs s"
		python3 -c "import sys; sys.exit(0 if float('$secs') < float('$limit') else 1)" ||
			fail "TCP connect ($how) took $secs s to fail, limit $limit s"
	done
	log "eagain: a forwarded flow is dropped and counted"
	out=$(run_in lan $PEER udp-send "$OFFICE_HOST" 5001 pending-fwd --timeout 1 2>&1) &&
		fail "forwarded UDP got an answer while the SA is missing: $out"
	assert_ge 4 "$(mapping_field "$SPID" pending_refused)" "refused flows"
	assert_eq "" "$(office_sources)" "sources seen by the office while the SA is pending"

	log "the SA arrives: the next send goes through, translated and encrypted"
	xfrm_pair home "$HOME_WAN" "$GW_WAN" 0x1000 "$KEY_OUT"
	exchange home udp after-sa
	exchange lan tcp after-sa-tcp
	assert_eq "$MAPPED" "$(office_sources)" "sources seen by the office"
	assert_ge 2 "$(sa_packets home "$HOME_WAN" "$GW_WAN" 0x1000)" "packets through the new SA"

	log "drop mode: the send succeeds, the packet goes nowhere, counted"
	run_in home ip xfrm state delete src "$HOME_WAN" dst "$GW_WAN" proto esp spi 0x1000
	xnat map "spid=$SPID" to "$MAPPED" pending drop replace
	assert_eq drop "$(mapping_field "$SPID" pending)" "pending mode after replace"
	out=$(run_in home $PEER udp-send "$OFFICE_HOST" 5001 dropped --no-reply 2>&1) ||
		fail "UDP send failed in drop mode: $out"
	assert_contains "$out" "sent 1 failed 0" "UDP send in drop mode"
	assert_ge 1 "$(mapping_field "$SPID" pending_drops)" "dropped flows"
	sleep 0.5
	assert_eq 0 "$(grep -c dropped "$XNAT_TMP/office.log" || true)" "dropped datagrams at the office"
}
