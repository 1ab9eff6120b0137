#!/usr/bin/env bash
# Two remote offices with the same LAN, and flows with identical inner
# 5-tuples through both tunnels at once, kept apart by a conntrack zone per
# mapping.
#
#   lan 192.168.1.10 --- home ===== router ===== gw  --- office  10.0.1.7
#                                          \==== gw2 --- office2 10.0.1.7
#
# The home box maps its LAN to 10.20.30.0/24 for both tunnels, and names
# office A's LAN 10.99.1.0/24, office B's 10.98.1.0/24:
#   map spid=A from 192.168.1.0/24 to 10.20.30.0/24 remote 10.99.1.0/24 is 10.0.1.0/24 zone 11 inbound
#   map spid=B from 192.168.1.0/24 to 10.20.30.0/24 remote 10.98.1.0/24 is 10.0.1.0/24 zone 12 inbound
# The two out policies have the same selector (10.20.30.0/24 -> 10.0.1.0/24)
# and differ by mark: nftables marks what is sent to each alias, and what
# arrives by each tunnel's SA (for the in and fwd policies, which have one
# selector too).
#   - The LAN host, from port 40000, to 10.99.1.7, then to 10.98.1.7
#     while the first flow's entry lives: both offices see 10.20.30.10:40000 -> 10.0.1.7:5001, the same tuple; the
#     replies come back from each alias; the two conntrack entries are in
#     zones 11 and 12.
#   - Both office hosts, from 10.0.1.7:5000 to 10.20.30.10:5001 at once:
#     the LAN host gets one datagram from each alias, and both get a reply.
#   - Only ESP on the WAN.
#   - The control: the same without zones.  Outbound, the NAT core finds
#     the second flow's translated tuple taken and gives it another source
#     port; inbound, the second office's datagram is taken for the first's
#     connection and reaches the LAN host from office A's alias.
#   - On a kernel without conntrack zones (CONFIG_NF_CONNTRACK_ZONES, which
#     the 6.12 test kernel lacks) `zone` must be refused: it could not keep
#     the flows apart.
# IPv6 alike, with fd10:1::/64 for both offices.
# families: 4 6
# timeout: 300
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../howto.sh"

require_root
require_cmd ip python3 tcpdump nft
require_module
require_ctl

FAMILY=$(test_family)

zones_vars() {
	case $1 in
	4)
		NFA=ip LAN_NET=192.168.1.0/24
		SITE_NET=10.0.1.0/24 SITE_HOST=10.0.1.7 SITE_GW=10.0.1.254
		TO_NET=10.20.30.0/24 LAN_SEEN=10.20.30.10
		ALIAS_A=10.99.1.0/24 SEEN_A=10.99.1.7
		ALIAS_B=10.98.1.0/24 SEEN_B=10.98.1.7
		GW2_WAN=100.3.3.1 ROUTER_GW2=100.3.3.254
		;;
	6)
		NFA=ip6 LAN_NET=fd00:1::/64
		SITE_NET=fd10:1::/64 SITE_HOST=fd10:1::7 SITE_GW=fd10:1::fe
		TO_NET=fd00:20::/64 LAN_SEEN=fd00:20::10
		ALIAS_A=fd99:1::/64 SEEN_A=fd99:1::7
		ALIAS_B=fd98:1::/64 SEEN_B=fd98:1::7
		GW2_WAN=2001:db8:3::1 ROUTER_GW2=2001:db8:3::fe
		;;
	esac
	SPID_A=$SPID SPID_B=$((SPID + 8))
}

# office_lan GW OFFICE: the office's LAN on $SITE_NET, the same prefix at
# both offices.
office_lan() {
	run_in "$1" ip addr flush dev lan0 scope global
	_xnat_addr_add "$1" lan0 "$SITE_GW/$PLEN"
	run_in "$2" ip addr flush dev eth0 scope global
	_xnat_addr_add "$2" eth0 "$SITE_HOST/$PLEN"
	run_in "$2" ip -"$FAM" route replace default via "$SITE_GW"
}

# office_tunnel GW GW_WAN REQID SPI_OUT SPI_IN: the tunnel between home and
# GW for $TO_NET <-> $SITE_NET.  At home its policies carry mark REQID: the
# only thing that tells them from the other tunnel's.
office_tunnel() {
	local gw=$1 wan=$2 reqid=$3 out=$4 in=$5 ns d mark=(mark "$3" mask 0xffffffff)
	for ns in home "$gw"; do
		xfrm_pair "$ns" "$HOME_WAN" "$wan" "$out" "$KEY_OUT" "$reqid"
		xfrm_pair "$ns" "$wan" "$HOME_WAN" "$in" "$KEY_IN" "$reqid"
	done
	run_in home ip xfrm policy add src "$TO_NET" dst "$SITE_NET" dir out index "$((SPID + (reqid - 1) * 8))" "${mark[@]}" \
		tmpl src "$HOME_WAN" dst "$wan" proto esp reqid "$reqid" mode tunnel
	for d in in fwd; do
		run_in home ip xfrm policy add src "$SITE_NET" dst "$TO_NET" dir "$d" "${mark[@]}" \
			tmpl src "$wan" dst "$HOME_WAN" proto esp reqid "$reqid" mode tunnel
		run_in "$gw" ip xfrm policy add src "$TO_NET" dst "$SITE_NET" dir "$d" \
			tmpl src "$HOME_WAN" dst "$wan" proto esp reqid "$reqid" mode tunnel
	done
	run_in "$gw" ip xfrm policy add src "$SITE_NET" dst "$TO_NET" dir out \
		tmpl src "$wan" dst "$HOME_WAN" proto esp reqid "$reqid" mode tunnel
}

zones_setup() {
	howto_net "$1"
	zones_vars "$1"
	netns_create gw2 office2
	veth_pair router r-gw2 "" gw2 wan0 ""
	veth_pair gw2 lan0 "" office2 eth0 ""
	howto_up router r-gw2 "$ROUTER_GW2/$PLEN"
	howto_up gw2 wan0 "$GW2_WAN/$PLEN" via "$ROUTER_GW2"
	forwarding gw2
	office_lan gw office
	office_lan gw2 office2
	office_tunnel gw "$GW_WAN" 1 0x1000 0x2000
	office_tunnel gw2 "$GW2_WAN" 2 0x3000 0x4000
	# The mark picks the tunnel: for what the LAN sends, by the alias it
	# sends to (before the module translates it to the office's address,
	# at priority -100); for what arrives, by the SA that decrypted it.
	run_in home nft -f - <<-EOF
		table inet zones {
			chain pre {
				type filter hook prerouting priority mangle; policy accept;
				$NFA daddr $ALIAS_A meta mark set 1
				$NFA daddr $ALIAS_B meta mark set 2
				ipsec in reqid 1 meta mark set 1
				ipsec in reqid 2 meta mark set 2
			}
		}
	EOF
	howto_servers office
	howto_servers office2
	howto_servers lan
}

zone_packets() {
	run_in home nft list counter inet zones "z$1" | sed -n 's/.*packets \([0-9]*\).*/\1/p'
}
zones_reset() { run_in home nft reset counters table inet zones >/dev/null; }

# ct_entries PATTERN...: home's conntrack entries that match every PATTERN
# (grep -E), from /proc/net/nf_conntrack; "-" where the kernel has none.
ct_entries() {
	local lines p
	lines=$(run_in home cat /proc/net/nf_conntrack 2>/dev/null) || { echo -; return; }
	for p in "$@"; do lines=$(grep -E -- "$p" <<<"$lines" || true); done
	[ -n "$lines" ] || { echo 0; return; }
	wc -l <<<"$lines"
}

# send_from NS BIND HOST TAG: one UDP exchange with HOST:5001 from the
# socket bound to BIND; prints the client's verdict.
send_from() {
	run_in "$1" $PEER udp-send "$3" 5001 "$4" --bind "$2" --timeout 8 2>&1 || true
}

# mappings [zone]: both mappings, with their zones or (replace) without.
mappings() {
	local za= zb= rep=
	if [ "${1:-}" = zone ]; then za="zone 11" zb="zone 12"; else rep=replace; fi
	# shellcheck disable=SC2086 # the zone and replace words
	xnat map "spid=$SPID_A" from "$LAN_NET" to "$TO_NET" remote "$ALIAS_A" is "$SITE_NET" $za inbound $rep
	# shellcheck disable=SC2086
	xnat map "spid=$SPID_B" from "$LAN_NET" to "$TO_NET" remote "$ALIAS_B" is "$SITE_NET" $zb inbound $rep
}

# The kernel keeps zones only with CONFIG_NF_CONNTRACK_ZONES; without it
# nftables refuses to set one.
kernel_has_zones() {
	run_in home nft -f - >/dev/null 2>&1 <<-EOF
		table inet zprobe {
			chain c {
				type filter hook prerouting priority raw;
				ct zone set 1
			}
		}
	EOF
	local rc=$?
	run_in home nft delete table inet zprobe 2>/dev/null || true
	return "$rc"
}

zones_setup "$FAMILY"
load_module

if ! kernel_has_zones; then
	phase "IPv$FAMILY: a kernel without conntrack zones refuses zone N"
	# A zone the kernel cannot keep is no zone: the two offices' flows
	# would meet in zone 0.  Accepting `zone` here is a fail-open.
	out=$(xnat map "spid=$SPID_A" from "$LAN_NET" to "$TO_NET" remote "$ALIAS_A" is "$SITE_NET" zone 11 inbound 2>&1) &&
		fail "this kernel has no conntrack zones (CONFIG_NF_CONNTRACK_ZONES), yet map ... zone 11 was accepted: $out"
	assert_contains "$out" "this kernel keeps no conntrack zones" "the refusal of zone 11 on a kernel without zones"
	assert_eq "[]" "$(xnat -j show)" "mappings after the refusal"
	phase "IPv$FAMILY: two offices with one LAN, kept apart by zones"
	skip "this kernel has no conntrack zones (CONFIG_NF_CONNTRACK_ZONES): the two offices' flows are tested on Debian's kernel (KSERIES=7.3)"
fi
# Packets forwarded, by the zone of their conntrack entry: the proof that
# conntrack holds each flow in its mapping's.
run_in home nft -f - <<EOF
table inet zones {
	counter z0 {}
	counter z11 {}
	counter z12 {}
	chain fw {
		type filter hook forward priority filter; policy accept;
		ct zone 0 counter name z0
		ct zone 11 counter name z11
		ct zone 12 counter name z12
	}
}
EOF

phase "IPv$FAMILY: two mappings, one to prefix, aliases $ALIAS_A and $ALIAS_B for $SITE_NET, zones 11 and 12"
mappings zone
xnat show
assert_eq "active ${ALIAS_A%/*} 11 True" "$(key_fields "spid=$SPID_A" state remote_alias zone inbound)" "mapping A"
assert_eq "active ${ALIAS_B%/*} 12 True" "$(key_fields "spid=$SPID_B" state remote_alias zone inbound)" "mapping B"
assert_contains "$(xnat save)" "remote $ALIAS_B is $SITE_NET zone 12" "save"

phase "IPv$FAMILY: the LAN host, from port 40000, to $SEEN_A and $SEEN_B: one inner tuple in both tunnels"
capture_start router r-home wan
capture_start router r-gw2 wan2
capture_start office eth0 office
capture_start office2 eth0 office2
capture_start lan eth0 lan
zones_reset
# One socket after the other (both bind port 40000), the first's entry
# still live when the second flow starts.
out_a=$(send_from lan "[$LAN_HOST]:40000" "$SEEN_A" out-a)
out_b=$(send_from lan "[$LAN_HOST]:40000" "$SEEN_B" out-b)
assert_contains "$out_a" "ok out-a" "the reply from office A"
assert_contains "$out_b" "ok out-b" "the reply from office B"
same="udp and src host $LAN_SEEN and src port 40000 and dst host $SITE_HOST and dst port 5001"
assert_eq 1 "$(capture_count office "$same")" "datagrams $LAN_SEEN:40000 -> $SITE_HOST:5001 at office A"
assert_eq 1 "$(capture_count office2 "$same")" "datagrams $LAN_SEEN:40000 -> $SITE_HOST:5001 at office B"
assert_eq "udp $LAN_SEEN out-a" "$(cat "$XNAT_TMP/office.log")" "what office A received"
assert_eq "udp $LAN_SEEN out-b" "$(cat "$XNAT_TMP/office2.log")" "what office B received"
assert_eq 1 "$(capture_count lan "udp and src host $SEEN_A and src port 5001 and dst port 40000")" "the reply from $SEEN_A at the LAN host"
assert_eq 1 "$(capture_count lan "udp and src host $SEEN_B and src port 5001 and dst port 40000")" "the reply from $SEEN_B at the LAN host"
# Each flow's request and reply, in its mapping's zone.
assert_eq "2 2 0" "$(zone_packets 11) $(zone_packets 12) $(zone_packets 0)" "forwarded packets in zones 11, 12, 0"
orig="sport=40000 dport=5001 .*sport=5001 dport=40000 "
ct=$(run_in home cat /proc/net/nf_conntrack 2>/dev/null || echo "(no /proc/net/nf_conntrack)")
log "conntrack: $(grep -- "dport=5001" <<<"$ct" || true)"
for z in 11 12; do
	n=$(ct_entries "$orig" "zone=$z ")
	[ "$n" = - ] || assert_eq 1 "$n" "conntrack entries 40000 -> 5001 in zone $z"
done

phase "IPv$FAMILY: both office hosts, from $SITE_HOST:5000 to $LAN_SEEN:5001 at once"
zones_reset
send_from office "[$SITE_HOST]:5000" "$LAN_SEEN" in-a >"$XNAT_TMP/in-a.out" &
pa=$!
send_from office2 "[$SITE_HOST]:5000" "$LAN_SEEN" in-b >"$XNAT_TMP/in-b.out" &
pb=$!
wait "$pa" "$pb"
assert_contains "$(cat "$XNAT_TMP/in-a.out")" "ok in-a" "the reply to office A"
assert_contains "$(cat "$XNAT_TMP/in-b.out")" "ok in-b" "the reply to office B"
assert_eq "udp $SEEN_B in-b|udp $SEEN_A in-a" "$(sort "$XNAT_TMP/lan.log" | paste -sd'|')" "what the LAN host received, from whom"
assert_eq 1 "$(capture_count lan "udp and src host $SEEN_A and src port 5000 and dst host $LAN_HOST and dst port 5001")" "datagrams from $SEEN_A:5000 at the LAN host"
assert_eq 1 "$(capture_count lan "udp and src host $SEEN_B and src port 5000 and dst host $LAN_HOST and dst port 5001")" "datagrams from $SEEN_B:5000 at the LAN host"
assert_eq "2 2 0" "$(zone_packets 11) $(zone_packets 12) $(zone_packets 0)" "forwarded packets in zones 11, 12, 0"
for z in 11 12; do
	n=$(ct_entries "sport=5000 dport=5001 .*sport=5001 dport=5000 " "zone=$z ")
	[ "$n" = - ] || assert_eq 1 "$n" "conntrack entries 5000 -> 5001 in zone $z"
done
for k in "$SPID_A" "$SPID_B"; do
	assert_eq "1 1 0" "$(key_fields "spid=$k" flows inbound_flows fail_closed_drops)" "flows, inbound-flows, fail-closed-drops of spid $k"
done

phase "IPv$FAMILY: only ESP on the WAN"
for c in wan wan2 office office2 lan; do capture_stop "$c"; done
plain="net $SITE_NET or net $TO_NET or net $ALIAS_A or net $ALIAS_B or net $LAN_NET"
for c in wan wan2; do
	[ "$(capture_count "$c" "$plain")" = 0 ] || fail "plaintext on $c: $(capture_show "$c" "$plain")"
	assert_eq 0 "$(capture_count "$c" "not esp and not arp and not icmp6")" "non-ESP packets on $c"
done
assert_eq 2 "$(capture_count wan "esp and src host $HOME_WAN and dst host $GW_WAN")" "ESP packets to gw"
assert_eq 2 "$(capture_count wan "esp and src host $HOME_WAN and dst host $GW2_WAN")" "ESP packets to gw2"
assert_eq 2 "$(capture_count wan2 "esp and src host $HOME_WAN and dst host $GW2_WAN")" "ESP packets to gw2 on its link"
assert_eq 0 "$(capture_count wan2 "host $GW_WAN")" "packets of gw's tunnel on gw2's link"

phase "IPv$FAMILY: the control: the same mappings without zones"
mappings
assert_eq "None None" "$(key_fields "spid=$SPID_A" zone) $(key_fields "spid=$SPID_B" zone)" "zones after replace"
zones_reset
capture_start router r-home ctl-wan
capture_start office eth0 ctl-office
capture_start office2 eth0 ctl-office2
: >"$XNAT_TMP/office.log"
: >"$XNAT_TMP/office2.log"
: >"$XNAT_TMP/lan.log"
out_a=$(send_from lan "[$LAN_HOST]:40001" "$SEEN_A" ctl-out-a)
out_b=$(send_from lan "[$LAN_HOST]:40001" "$SEEN_B" ctl-out-b)
log "without zones, outbound: '$out_a', '$out_b'"
capture_stop ctl-office
capture_stop ctl-office2
# Office A's flow took the tuple first; office B's, identical after the
# source translation, gets the NAT core's next free source port.
same="udp and src host $LAN_SEEN and dst host $SITE_HOST and dst port 5001"
assert_eq 1 "$(capture_count ctl-office "$same and src port 40001")" "datagrams from $LAN_SEEN:40001 at office A"
assert_eq 1 "$(capture_count ctl-office2 "$same")" "datagrams from $LAN_SEEN at office B"
assert_eq 0 "$(capture_count ctl-office2 "$same and src port 40001")" "datagrams from $LAN_SEEN:40001 at office B (the port taken)"
log "office B saw: $(capture_show ctl-office2 "$same")"
assert_eq "0 0" "$(zone_packets 11) $(zone_packets 12)" "forwarded packets in zones 11, 12"

# Inbound, office B's datagram has office A's tuple: conntrack takes it for
# A's connection and translates it as A's, from A's alias.
: >"$XNAT_TMP/lan.log"
in_a=$(send_from office "[$SITE_HOST]:5100" "$LAN_SEEN" ctl-in-a)
in_b=$(send_from office2 "[$SITE_HOST]:5100" "$LAN_SEEN" ctl-in-b)
log "without zones, inbound: office A '$in_a', office B '$in_b'; the LAN host: $(paste -sd'|' "$XNAT_TMP/lan.log")"
assert_contains "$in_a" "ok ctl-in-a" "the reply to office A"
assert_contains "$in_b" "timeout" "the reply to office B"
assert_eq "udp $SEEN_A ctl-in-a|udp $SEEN_A ctl-in-b" "$(paste -sd'|' "$XNAT_TMP/lan.log")" "what the LAN host received, from whom"
capture_stop ctl-wan
[ "$(capture_count ctl-wan "$plain")" = 0 ] || fail "plaintext on the WAN without zones: $(capture_show ctl-wan "$plain")"
xnat show
