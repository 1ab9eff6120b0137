#!/usr/bin/env bash
# A route-based VPN: the home box routes the office net into an xfrm
# interface (ipsec9, if_id 42) and its SAs and policies carry if_id 42.
# The SPD matches such a policy only for packets that leave by that
# interface, asked with its if_id; a mapping of the policy must translate
# the flows that leave by ipsec9 and let them be encrypted there, not
# translate them and then drop them as fail-closed because the NAT core's
# own lookup (without an if_id) finds no bundle.
# timeout: 180
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../field.sh"

field_require

IF_ID=42
howto_net 4
LAN_NET=192.168.1.0/24
howto_sas 1 0x1000 0x2000 if_id "$IF_ID"
howto_servers
run_in home ip link add ipsec9 type xfrm dev wan0 if_id "$IF_ID" ||
	fail "cannot create an xfrm interface (CONFIG_XFRM_INTERFACE)"
run_in home ip link set ipsec9 up
run_in home ip route add "$OFFICE_NET" dev ipsec9

log "the plumbing: without xfrm-nat, LAN traffic leaves by ipsec9 in ESP under a policy of its own source"
home_out "$LAN_NET" "$OFFICE_NET" 1 if_id "$IF_ID"
howto_return_policies "$LAN_NET" "$OFFICE_NET" 1 if_id "$IF_ID"
capture_start router r-home plumbing
exchange lan udp plumb-udp
capture_stop plumbing
assert_eq "$LAN_HOST" "$(office_src plumb-udp)" "source of the LAN's datagram at the office"
assert_ge 1 "$(capture_count plumbing "esp and src host $HOME_WAN")" "ESP packets to the gateway"
no_plaintext plumbing "$OFFICE_HOST" "$LAN_HOST"
policies_flush

home_out "$MAPPED/32" "$OFFICE_NET" 1 index "$SPID" if_id "$IF_ID"
howto_return_policies "$MAPPED/32" "$OFFICE_NET" 1 if_id "$IF_ID"
load_module
xnat map "spid=$SPID" to "$MAPPED"
assert_eq active "$(mapping_field "$SPID" state)" "mapping state"
sa_before=$(sa_packets home "$HOME_WAN" "$GW_WAN" 0x1000)

log "mapped: flows from the home box and its LAN leave by ipsec9, translated, in ESP"
capture_start router r-home tunnel
exchange home udp home-udp
exchange home tcp home-tcp
ping_ok home "$OFFICE_HOST"
exchange lan udp lan-udp
exchange lan tcp lan-tcp
capture_stop tunnel
for t in home-udp home-tcp lan-udp lan-tcp; do
	assert_eq "$MAPPED" "$(office_src "$t")" "source of '$t' at the office"
done
assert_ge 10 "$(capture_count tunnel "esp and src host $HOME_WAN and dst host $GW_WAN")" "ESP packets to the gateway"
no_plaintext tunnel "$OFFICE_HOST" "$MAPPED" "$LAN_HOST"
assert_ge $((sa_before + 5)) "$(sa_packets home "$HOME_WAN" "$GW_WAN" 0x1000)" "packets through the if_id SA"
xnat show
assert_eq 0 "$(mapping_field "$SPID" fail_closed_drops)" "fail-closed drops"
assert_ge 5 "$(mapping_field "$SPID" flows)" "flows of the mapping"
