#!/usr/bin/env bash
# A policy for marked traffic only (mark 0x42/0xff): nftables marks UDP to
# the office's port 5001, from the home box (a route chain, so that the
# route is looked up again with the mark) and from its LAN (prerouting).
# The mapping's selectors cover TCP to port 5002 too, but the SPD, asked
# with the packet's mark (none), gives it no policy: it must be left as it
# is (declined) and go where an unmapped flow goes (here: the router, which
# has no route to the office and answers "net unreachable"), not be
# translated and then dropped as fail-closed with EHOSTUNREACH.
# timeout: 180
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../field.sh"

field_require nft

field_net 4
run_in home nft -f - <<EOF2
table ip office_mark {
	chain out {
		type route hook output priority mangle; policy accept;
		ip daddr $OFFICE_NET udp dport 5001 meta mark set 0x42
	}
	chain pre {
		type filter hook prerouting priority mangle; policy accept;
		ip daddr $OFFICE_NET udp dport 5001 meta mark set 0x42
	}
}
EOF2

log "the plumbing: without xfrm-nat, a marked policy of the LAN's own source takes marked UDP, not TCP"
field_tunnel "$LAN_NET" "$OFFICE_NET" 1 mark 0x42 mask 0xff
capture_start router r-home plumbing
exchange lan udp plumb-udp
send_expect lan tcp "$OFFICE_HOST" plumb-tcp timeout
capture_stop plumbing
assert_eq "$LAN_HOST" "$(office_src plumb-udp)" "source of the LAN's marked datagram at the office"
assert_eq "" "$(office_src plumb-tcp)" "source of the LAN's unmarked TCP at the office"
assert_ge 1 "$(capture_count plumbing "tcp and src host $LAN_HOST and dst host $OFFICE_HOST")" "the unmarked SYN, in plaintext"
policies_flush

field_tunnel "$MAPPED/32" "$OFFICE_NET" 1 index "$SPID" mark 0x42 mask 0xff
load_module
xnat map "spid=$SPID" to "$MAPPED"
assert_eq active "$(mapping_field "$SPID" state)" "mapping state"

log "marked UDP from the home box and its LAN is translated into the tunnel"
capture_start router r-home tunnel
exchange home udp home-udp
exchange lan udp lan-udp
capture_stop tunnel
assert_eq "$MAPPED" "$(office_src home-udp)" "source of the home box's marked datagram at the office"
assert_eq "$MAPPED" "$(office_src lan-udp)" "source of the LAN's marked datagram at the office"
assert_ge 4 "$(capture_count tunnel "esp and host $GW_WAN")" "ESP packets"
no_plaintext tunnel "$OFFICE_HOST" "$MAPPED" "$LAN_HOST"

log "unmarked TCP is left untranslated: it leaves in plaintext, and the router answers 'net unreachable'"
capture_start router r-home plain
# The home box's connect fails at once with the router's ICMP net
# unreachable (a SYN_SENT socket takes it as fatal): not EHOSTUNREACH from
# a fail-closed drop, nor a timeout.  The LAN host's SYN meets the same
# fate, but the router cannot tell the LAN: its connect times out.
send_expect home tcp "$OFFICE_HOST" home-tcp "errno ENETUNREACH"
send_expect lan tcp "$OFFICE_HOST" lan-tcp timeout
capture_stop plain
assert_eq "" "$(office_src home-tcp)$(office_src lan-tcp)" "sources of the unmarked TCP at the office"
assert_ge 1 "$(capture_count plain "tcp and src host $HOME_WAN and dst host $OFFICE_HOST")" "the home box's SYN, untranslated"
assert_ge 1 "$(capture_count plain "tcp and src host $LAN_HOST and dst host $OFFICE_HOST")" "the LAN's SYN, untranslated"
assert_eq 0 "$(capture_count plain "host $MAPPED")" "packets with the mapped address outside ESP"

field_counters_ok 2
