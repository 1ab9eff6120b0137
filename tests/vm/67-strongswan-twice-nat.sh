#!/usr/bin/env bash
# Two sites with the same LAN (192.168.1.0/24; fd00:1::/64), strongSwan's
# charon on the home box and on the office gateway, with the translated
# traffic selectors that tests/vm/66-twice-nat.sh sets up by hand:
#
#   home:   local_ts = 10.20.30.0/24  remote_ts = 192.168.1.0/24  reqid = 7
#           start_action = trap
#   office: local_ts = 192.168.1.0/24 remote_ts = 10.20.30.0/24  (no NAT)
#
# and on the home box `xnatctl map reqid=7 from 192.168.1.0/24 to
# 10.20.30.0/24 remote 10.99.1.0/24 is 192.168.1.0/24 inbound pending hold`.
#
# start_action = trap, not start: the trap policy exists from the moment the
# connection is loaded, so the mapping binds it and checks its remote prefix
# against the policy's selector before any SA, and the first datagram to the
# alias (held, not refused) is what starts the negotiation: the ACQUIRE
# carries the translated flow, which is the proof that the destination is
# rewritten before the policy lookup.
#   - The home LAN host reaches the office host at its alias 10.99.1.7 (the
#     first UDP datagram through the negotiation, then UDP, TCP, ping); the
#     office host sees 10.20.30.10.
#   - The office host reaches the home LAN host at 10.20.30.10 (UDP, TCP,
#     ping); the LAN host sees 10.99.1.7.
#   - The WAN carries only IKE and ESP, no address of either LAN prefix, the
#     alias or the mapped prefix.
#   - flows, inbound-flows, held and released count them.
# families: 4 6
# timeout: 480
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../howto.sh"
. "$(dirname "$0")/../strongswan.sh"
. "$(dirname "$0")/../ike.sh"

require_root
require_cmd ip python3 unshare tcpdump ping swanctl
[ -x /usr/lib/ipsec/charon ] || fail "/usr/lib/ipsec/charon missing (Debian package strongswan-charon, installed by make deps)"
require_module
require_ctl

FAMILY=$(test_family)
howto_net "$FAMILY"
# The host parts are those of the home LAN host (.10, ::10) and of the
# office host (.7, ::7): each site's view of the other keeps them.
if [ "$FAMILY" = 4 ]; then
	SITE_NET=192.168.1.0/24 TO_NET=10.20.30.0/24 ALIAS_NET=10.99.1.0/24 ICMP=icmp
	SITE_HOST=192.168.1.7 SITE_GW=192.168.1.254 LAN_SEEN=10.20.30.10 SITE_SEEN=10.99.1.7
	# The office's addresses arrive on the WAN, where a strict reverse path
	# filter would take them for the home LAN's own.
	run_in home sysctl -qw net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.wan0.rp_filter=2
else
	SITE_NET=fd00:1::/64 TO_NET=fd00:20::/64 ALIAS_NET=fd99:1::/64 ICMP=icmp6
	SITE_HOST=fd00:1::7 SITE_GW=fd00:1::fe LAN_SEEN=fd00:20::10 SITE_SEEN=fd99:1::7
fi
log "office LAN $SITE_NET (host $SITE_HOST), home LAN $SITE_NET as $TO_NET, office as $ALIAS_NET"

# The office site renumbered onto the home LAN's prefix.
run_in gw ip addr flush dev lan0 scope global
run_in office ip addr flush dev eth0 scope global
howto_up gw lan0 "$SITE_GW/$PLEN"
howto_up office eth0 "$SITE_HOST/$PLEN"
run_in office ip -"$FAM" route replace default via "$SITE_GW"
ike_topology_flush
howto_servers
howto_servers lan

capture_start router r-home wan
charon_start gw office "$GW_WAN" "$HOME_WAN" "$SITE_NET" "$TO_NET" none
charon_start home home "$HOME_WAN" "$GW_WAN" "$TO_NET" "$SITE_NET" trap "$IKE_REQID"
wait_for 60 "charon's trap policy $TO_NET -> $SITE_NET on the home box" test -n "$(trap_index "$TO_NET")"
trap_idx=$(trap_index "$TO_NET")
load_module

phase "IPv$FAMILY: map reqid=$IKE_REQID from $SITE_NET to $TO_NET remote $ALIAS_NET is $SITE_NET inbound"
xnat map "reqid=$IKE_REQID" from "$SITE_NET" to "$TO_NET" remote "$ALIAS_NET" is "$SITE_NET" inbound pending hold
xnat show
assert_eq "active $trap_idx ${SITE_NET%/*} ${ALIAS_NET%/*} ${SITE_NET#*/} True" \
	"$(key_fields "reqid=$IKE_REQID" state policies remote remote_alias remote_prefix_len inbound)" \
	"state, the bound trap policy, the remote part"
home_sa_up && fail "an SA before any traffic: $(run_in home ip xfrm state)"

phase "IPv$FAMILY: the home LAN host reaches the office host at $SITE_SEEN, the first datagram through the negotiation"
capture_start office eth0 office
out=$(run_in lan $PEER udp-send "$SITE_SEEN" 5001 first --timeout 60 2>&1) ||
	fail "the first datagram to $SITE_SEEN got no reply: $out"
assert_contains "$out" "ok first" "the reply to the first datagram"
home_sa_up || fail "no SA of reqid $IKE_REQID home -> office gateway: $(run_in home ip xfrm state)"
assert_eq "1 1 0" "$(key_fields "reqid=$IKE_REQID" held released hold_queued)" "held, released, queued"
sas=$(swanctl_home --list-sas 2>&1)
log "home CHILD_SA: $(grep -E 'INSTALLED|local |remote ' <<<"$sas" | tr -s ' \n' ' ')"
assert_contains "$sas" "INSTALLED" "the home CHILD_SA"
# The responder narrowed nothing: the CHILD_SA carries the subnets, not
# the first packet's host pair.
assert_match "$sas" "local +$TO_NET" "the CHILD_SA's local selector"
assert_match "$sas" "remote +$SITE_NET" "the CHILD_SA's remote selector"
assert_eq "$trap_idx" "$(key_field "reqid=$IKE_REQID" policies)" "the policy bound once the SA is up"
exchange lan udp out-udp "$SITE_SEEN"
exchange lan tcp out-tcp "$SITE_SEEN"
ping_ok lan "$SITE_SEEN" 2
assert_eq "udp $LAN_SEEN first|udp $LAN_SEEN out-udp|tcp $LAN_SEEN out-tcp" \
	"$(paste -sd'|' "$XNAT_TMP/office.log")" "the office host's log: tag and source"

phase "IPv$FAMILY: the office host reaches the home LAN host at $LAN_SEEN"
capture_start lan eth0 lan
exchange office udp in-udp "$LAN_SEEN"
exchange office tcp in-tcp "$LAN_SEEN"
ping_ok office "$LAN_SEEN" 2
capture_stop lan
capture_stop office
assert_eq "udp $SITE_SEEN in-udp|tcp $SITE_SEEN in-tcp" \
	"$(paste -sd'|' "$XNAT_TMP/lan.log")" "the LAN host's log: tag and source"

phase "IPv$FAMILY: each site sees the other only as mapped; the WAN only IKE and ESP; counters"
capture_stop wan
# Per LAN: at least the packets of each protocol between the host and the
# other site's view of it, and none with the other site's own address (one
# of the LAN's own prefix).
for p in udp tcp "$ICMP"; do
	assert_ge 2 "$(capture_count office "$p and host $LAN_SEEN and host $SITE_HOST")" "$p between $LAN_SEEN and the office host"
	assert_ge 2 "$(capture_count lan "$p and host $SITE_SEEN and host $LAN_HOST")" "$p between $SITE_SEEN and the LAN host"
done
assert_eq "0 0" "$(capture_count office "host $LAN_HOST") $(capture_count lan "host $SITE_HOST")" \
	"packets with the home LAN host's address at the office, with the office host's at the LAN host"
inner="net $SITE_NET or net $TO_NET or net $ALIAS_NET"
[ "$(capture_count wan "$inner")" = 0 ] || fail "inner addresses on the WAN: $(capture_show wan "$inner" | head -n 20)"
[ "$(capture_count wan "not ($IKE_WAN_TRAFFIC)")" = 0 ] ||
	fail "neither IKE nor ESP on the WAN: $(capture_show wan "not ($IKE_WAN_TRAFFIC)" | head -n 20)"
assert_ge 2 "$(capture_count wan "udp port 500 or udp port 4500")" "IKE datagrams"
assert_ge 8 "$(capture_count wan "esp and src host $HOME_WAN and dst host $GW_WAN")" "ESP to the office gateway"
assert_ge 8 "$(capture_count wan "esp and src host $GW_WAN and dst host $HOME_WAN")" "ESP from the office gateway"
read -r flows inflows refused <<<"$(key_fields "reqid=$IKE_REQID" flows inbound_flows inbound_refused)"
log "flows $flows, inbound-flows $inflows, inbound-refused $refused"
assert_ge 4 "$flows" "flows (the LAN host's, to the alias: first, UDP, TCP, ping)"
assert_ge 3 "$inflows" "inbound-flows (the office host's: UDP, TCP, ping)"
assert_eq 0 "$refused" "inbound-refused"
xnat show
