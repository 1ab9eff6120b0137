#!/usr/bin/env bash
# Ordering with nftables, as documented: a mapping wins over a catch-all
# source NAT in a srcnat chain (priority 100), while a NAT chain that runs
# earlier (priority below 99) binds first and the mapping leaves its flows
# alone.
# timeout: 150
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../howto.sh"

require_root
require_cmd ip nft tcpdump python3
require_module
require_ctl

howto_setup 4
load_module
xnat map "spid=$SPID" to "$MAPPED"

log "a home box with the usual catch-all SNAT on its WAN interface"
run_in home nft -f - <<EOF2
table ip masq {
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan0" snat to $HOME_WAN
	}
}
EOF2
exchange lan udp under-catch-all
exchange home tcp under-catch-all-tcp
assert_eq "$MAPPED" "$(office_sources)" "source seen by the office with the catch-all SNAT present"
flows=$(mapping_field "$SPID" flows)
assert_eq 2 "$flows" "flows of the mapping"

log "an earlier NAT chain (srcnat - 5) binds the LAN's UDP flows first"
run_in home nft -f - <<EOF2
table ip early {
	chain post {
		type nat hook postrouting priority srcnat - 5; policy accept;
		ip saddr $LAN_HOST udp dport 5001 snat to $HOME_WAN
	}
}
EOF2
capture_start router r-home early
out=$(run_in lan $PEER udp-send "$OFFICE_HOST" 5001 early --timeout 1 2>&1) &&
	fail "UDP reached the office although an earlier chain bound it: $out"
capture_stop early
assert_eq "$flows" "$(mapping_field "$SPID" flows)" "flows of the mapping after the earlier chain's binding"
assert_ge 1 "$(capture_count early "udp and src host $HOME_WAN and dst host $OFFICE_HOST")" "the flow as the earlier chain NATed it"
assert_eq 0 "$(capture_count early esp)" "ESP for the flow bound by the earlier chain"
# Flows the earlier chain does not match still take the mapping.
exchange lan tcp after-early
assert_eq "$MAPPED" "$(office_sources)" "sources seen by the office"
