#!/usr/bin/env bash
# Policies the mapping does not bind but that the SPD prefers: a second
# tunnel (reqid 2, other SPIs, to the same gateway) has children of its own
# towards single office hosts.  For a flow the mapping's policy covers
# (priority 100, 10.20.30.2/32 -> 10.0.0.0/8), the SPD asked after NAT
# picks:
#   10.0.0.1  "0.0.0.0/0 -> 10.0.0.1/32", priority 10: it matches the
#             untranslated flow already, which goes through the second
#             tunnel with its own source (the module never saw it);
#   10.0.0.2  "10.20.30.0/24 -> 10.0.0.2/32", priority 10: only the
#             translated flow matches it, and it is not the mapping's;
#   10.0.0.4  "10.20.30.0/24 -> 10.0.0.4/32", priority 100 like the mapped
#             policy but older (the SPD prefers the older of equals);
#   10.0.0.3  the mapped policy alone.
# Flows to 10.0.0.2 and 10.0.0.4 must be declined (left untranslated: the
# router, with no route to the office, answers net unreachable), not
# translated and sent through the other tunnel; flows to 10.0.0.3 are
# translated into the mapped policy's tunnel.
# timeout: 180
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../field.sh"

field_require

field_net 4
# The office host's other addresses.  Exchanges with them are TCP: the UDP
# server answers from the address its route to the client prefers.
BASE=${OFFICE_HOST%.1}
HOST_ANY=$OFFICE_HOST HOST_HI=$BASE.2 HOST_MAPPED=$BASE.3 HOST_EQ=$BASE.4
for a in "$HOST_HI" "$HOST_MAPPED" "$HOST_EQ"; do
	run_in office ip addr add "$a/$OFFICE_PLEN" dev eth0
done
howto_sas 2 0x3000 0x4000
# The second tunnel's policies first: older than the mapped policy, so that
# on the office gateway (where all have priority 0) they win for the
# translated flows that reach it through that tunnel.
field_tunnel 10.20.30.0/24 "$HOST_EQ/32" 2 priority 100
field_tunnel 10.20.30.0/24 "$HOST_HI/32" 2 priority 10
field_tunnel 0.0.0.0/0 "$HOST_ANY/32" 2 priority 10
field_tunnel "$MAPPED/32" "$OFFICE_NET" 1 index "$SPID" priority 100

load_module
xnat map "spid=$SPID" to "$MAPPED"
assert_eq active "$(mapping_field "$SPID" state)" "mapping state"
sa1=$(sa_packets home "$HOME_WAN" "$GW_WAN" 0x1000)
sa2=$(sa_packets home "$HOME_WAN" "$GW_WAN" 0x3000)

capture_start router r-home wan
log "to $HOST_ANY: the unbound policy takes the flow as it is, through the second tunnel"
exchange home udp any-home "$HOST_ANY"
exchange lan tcp any-lan "$HOST_ANY"
assert_eq "$HOME_WAN" "$(office_src any-home)" "source of the home box's flow to $HOST_ANY"
assert_eq "$LAN_HOST" "$(office_src any-lan)" "source of the LAN's flow to $HOST_ANY"
assert_ge $((sa2 + 2)) "$(sa_packets home "$HOME_WAN" "$GW_WAN" 0x3000)" "packets through the second tunnel"
sa2=$(sa_packets home "$HOME_WAN" "$GW_WAN" 0x3000)

log "to $HOST_MAPPED: the mapped policy alone, translated"
exchange home tcp mapped-home "$HOST_MAPPED"
exchange lan tcp mapped-lan "$HOST_MAPPED"
assert_eq "$MAPPED" "$(office_src mapped-home)" "source of the home box's flow to $HOST_MAPPED"
assert_eq "$MAPPED" "$(office_src mapped-lan)" "source of the LAN's flow to $HOST_MAPPED"
assert_ge $((sa1 + 2)) "$(sa_packets home "$HOME_WAN" "$GW_WAN" 0x1000)" "packets through the mapped tunnel"

log "to $HOST_HI: an unbound policy of higher precedence takes the translated flow; it is declined"
send_expect home tcp "$HOST_HI" hi-home "errno ENETUNREACH"
send_expect lan tcp "$HOST_HI" hi-lan timeout
assert_eq "" "$(office_src hi-home)$(office_src hi-lan)" "sources of the flows to $HOST_HI at the office"

log "to $HOST_EQ: an older unbound policy of the same priority takes the translated flow; it is declined"
send_expect home tcp "$HOST_EQ" eq-home "errno ENETUNREACH"
send_expect lan tcp "$HOST_EQ" eq-lan timeout
assert_eq "" "$(office_src eq-home)$(office_src eq-lan)" "sources of the flows to $HOST_EQ at the office"
capture_stop wan
assert_eq "$sa2" "$(sa_packets home "$HOME_WAN" "$GW_WAN" 0x3000)" "packets through the second tunnel for the declined flows"
for a in "$HOST_HI" "$HOST_EQ"; do
	assert_ge 2 "$(capture_count wan "dst host $a and (src host $HOME_WAN or src host $LAN_HOST)")" \
		"untranslated packets to $a on the WAN"
done
no_plaintext wan "$MAPPED"

field_counters_ok 4
