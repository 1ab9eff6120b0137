#!/usr/bin/env bash
# A flow that conntrack confirmed before the first mapping: a filter-only
# nftables ruleset (ct state) keeps conntrack running in the home box, and
# a LAN host pings the office before `xnatctl map`.  Its entry was
# confirmed without a NAT binding, and a confirmed entry cannot be bound
# any more: the module must remove it and drop the packet (counted as
# stale_entries), so that the next echo request starts a new, translated
# flow; not drop the ping's packets for as long as it keeps its entry
# alive.
# timeout: 150
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../field.sh"

field_require nft ping

howto_setup 4
run_in home nft -f - <<EOF2
table inet f {
	chain c {
		type filter hook forward priority 0; policy accept;
		ct state established,related accept
	}
}
EOF2
load_module

log "a ping from the LAN before the first mapping: conntrack confirms its entry, untranslated"
run_in lan ping -D -n -i 0.2 -c 300 "$OFFICE_HOST" >"$XNAT_TMP/ping.out" 2>&1 &
ping_pid=$!
on_exit "kill $ping_pid 2>/dev/null"
ct_count_ge() { [ "$(ct_count home)" -ge "$1" ]; }
wait_for 30 "the ping's conntrack entry" ct_count_ge 1
sleep 1
assert_eq 0 "$(ping_replies_after 0 "$XNAT_TMP/ping.out")" "ping replies before the mapping"

capture_start office eth0 office "icmp"
capture_start router r-home wan
t=$(date +%s.%N)
xnat map "spid=$SPID" to "$MAPPED"
log "mapped: within 3 s the ping's requests reach the office from $MAPPED, and its replies the LAN"
wait_for 3 "ping replies at the LAN after the mapping" ping_replies_after_ge "$t" "$XNAT_TMP/ping.out" 1
wait_for 10 "3 ping replies" ping_replies_after_ge "$t" "$XNAT_TMP/ping.out" 3
kill "$ping_pid" 2>/dev/null || true
capture_stop office
capture_stop wan
assert_ge 3 "$(capture_count office "icmp[icmptype] == icmp-echo and src host $MAPPED")" "echo requests from $MAPPED at the office"
assert_eq 0 "$(capture_count office "icmp[icmptype] == icmp-echo and not src host $MAPPED")" "echo requests from other sources at the office"
assert_ge 6 "$(capture_count wan "esp and host $GW_WAN")" "ESP packets on the WAN"
# (The ping's requests before the mapping went out in plaintext.)
no_plaintext wan "$MAPPED"

xnat show
assert_eq 0 "$(mapping_field "$SPID" fail_closed_drops)" "fail-closed drops"
assert_ge 1 "$(mapping_field "$SPID" stale_entries)" "stale conntrack entries removed"
