#!/usr/bin/env bash
# `xnatctl daemon` with strongSwan's charon, mappings keyed by child name,
# no reqid pinned in swanctl.conf.  The home box has two connections, each
# its own IKE_SA to the office gateway, with trap policies:
#
#   office/net  10.20.30.2/32 === 10.0.0.0/24     map child=office/net to 10.20.30.2
#   lab/dmz     10.20.30.3/32 === 172.16.0.0/16   map child=lab/dmz to 10.20.30.3
#   lab/wide    10.20.50.0/24 === 172.16.0.0/16   map child=lab/wide from 192.168.1.0/24 to 10.20.60.0/24
#
#   - At start-up the daemon binds office/net and lab/dmz to the reqids
#     charon allocated (as `ip xfrm policy` and, once up, `swanctl
#     --list-sas` report them); the first datagram from the LAN to
#     each far end is held while charon negotiates, and each far host sees
#     its connection's address; the WAN carries only IKE and ESP.
#   - A rekey of office/net under a steady flow: a new SA of the same reqid,
#     the mapping stays bound, the flow goes on through the new SA, the
#     daemon saw the child-rekey.
#   - lab/wide's `to` prefix lies outside the child's local_ts: installed
#     inactive, the reason in the daemon's log and in `xnatctl show`, no
#     flow counted.
#   - The line of lab/wide removed from the config and SIGHUP: its mapping
#     goes, the others stay.
# timeout: 420
set -euo pipefail
. "$(dirname "$0")/../daemon.sh"
daemon_require

daemon_topology
OFFICE_LAN=10.0.0.0/24 LAN_NET=192.168.1.0/24 LAB_MAPPED=$MAPPED2 WIDE_TS=10.20.50.0/24 WIDE_TO=10.20.60.0/24
swanctl_write home "$(ss_conn home office home-office office "$(ss_child net "$MAPPED/32" "$OFFICE_LAN" trap)")
$(ss_conn home lab home-lab office "$(ss_child dmz "$LAB_MAPPED/32" "$OTHER_NET" trap; ss_child wide "$WIDE_TS" "$OTHER_NET" trap)")"
swanctl_write office "$(ss_conn gw office office home-office "$(ss_child net "$OFFICE_LAN" "$MAPPED/32" none)")
$(ss_conn gw lab office home-lab "$(ss_child dmz "$OTHER_NET" "$LAB_MAPPED/32" none)")"
capture_start router r-home wan
charon_launch gw office
charon_launch home home
wait_for 60 "charon's three trap policies on the home box" \
	eval 'has_policy "$MAPPED/32" -a -n "$(policy_reqid "$LAB_MAPPED/32")" -a -n "$(policy_reqid "$WIDE_TS")"'
office_reqid=$(policy_reqid "$MAPPED/32") lab_reqid=$(policy_reqid "$LAB_MAPPED/32") wide_reqid=$(policy_reqid "$WIDE_TS")
log "reqids charon allocated: office/net $office_reqid, lab/dmz $lab_reqid, lab/wide $wide_reqid"
# swanctl --list-pols of strongSwan 5.9 shows no reqid: the CHILD_SAs'
# reqids are compared once they are up (--list-sas).
pols=$(swanctl_home --list-pols 2>/dev/null)
for child in office/net lab/dmz lab/wide; do assert_contains "$pols" "$child, TUNNEL" "swanctl --list-pols"; done
[ "$office_reqid" != "$lab_reqid" ] && [ "$lab_reqid" != "$wide_reqid" ] && [ "$office_reqid" != "$wide_reqid" ] ||
	fail "charon gave two children the same reqid: $office_reqid $lab_reqid $wide_reqid"
load_module

phase "start-up: the children's trap policies bound by name, to charon's reqids"
daemon_config "# two connections, no reqid pinned" \
	"map child=office/net to $MAPPED pending hold" \
	"map child=lab/dmz to $LAB_MAPPED pending hold" \
	"" \
	"map child=lab/wide from $LAN_NET to $WIDE_TO"
daemon_start
assert_named_bound office/net "$MAPPED" "$MAPPED/32"
assert_named_bound lab/dmz "$LAB_MAPPED" "$LAB_MAPPED/32"
xnat show
wait_for 10 "the daemon to log office/net's mapping" daemon_said "office/net: reqid $office_reqid, to $MAPPED" ": mapped"
wait_for 10 "the daemon to log lab/dmz's mapping" daemon_said "lab/dmz: reqid $lab_reqid, to $LAB_MAPPED" ": mapped"

phase "traffic through each connection, NATed to its address, the first datagram held through the negotiation"
first_datagram lan "$OFFICE_HOST" office
first_datagram lan "$OTHER_HOST" lab
assert_eq "$MAPPED" "$(sources_of office office)" "sources seen by the office host"
assert_eq "$LAB_MAPPED" "$(sources_of other lab)" "sources seen by the lab host"
assert_eq "$office_reqid $lab_reqid" "$(charon_sa_reqid office net) $(charon_sa_reqid lab dmz)" \
	"the CHILD_SAs' reqids, swanctl --list-sas"
assert_named_bound office/net "$MAPPED" "$MAPPED/32"
assert_named_bound lab/dmz "$LAB_MAPPED" "$LAB_MAPPED/32"
assert_eq "1 1" "$(named_fields office/net held released)" "office/net: held, released"
assert_eq "1 1" "$(named_fields lab/dmz held released)" "lab/dmz: held, released"
assert_ge 3 "$(named_fields office/net flows)" "office/net: flows"
assert_ge 3 "$(named_fields lab/dmz flows)" "lab/dmz: flows"

phase "rekey of office/net under a steady flow: same reqid, still bound, the flow goes on through the new SA"
old_spi=$(home_out_spis "$office_reqid")
[ -n "$old_spi" ] || fail "no SA of reqid $office_reqid: $(run_in home ip xfrm state)"
lan_flow rekey
wait_for 60 "the steady flow at the office" office_from_ge "$MAPPED" rekey 5
daemon_log_mark
out=$(swanctl_home --rekey --ike office --child net 2>&1) || fail "swanctl --rekey: $out"
wait_for 60 "a new SA of reqid $office_reqid, the old one gone" home_out_spi_new "$office_reqid" "$old_spi"
new_spi=$(home_out_spis "$office_reqid")
log "office/net rekeyed: SA $old_spi -> $new_spi"
n0=$(office_from "$MAPPED" rekey)
wait_for 60 "10 more datagrams of the steady flow after the rekey" office_from_ge "$MAPPED" rekey $((n0 + 10))
assert_ge 10 "$(sa_packets home "$HOME_WAN" "$GW_WAN" "$new_spi")" "packets through the new SA"
kill "$flow" 2>/dev/null || true
assert_eq "$office_reqid" "$(charon_sa_reqid office net)" "office/net's reqid after the rekey, swanctl --list-sas"
assert_named_bound office/net "$MAPPED" "$MAPPED/32"
assert_eq "$MAPPED" "$(sources_of office rekey)" "sources of the steady flow at the office"
wait_for 10 "the daemon to log office/net's child-rekey" daemon_said "office/net: reqid $office_reqid, to $MAPPED" ": mapped"
daemon_log_since_mark | sed 's/^/#   daemon: /'

phase "lab/wide: its to prefix lies outside its local_ts: inactive, with the reason, in the daemon's log and in show"
wide_idx=$(trap_index "$WIDE_TS")
reason="policy $wide_idx selects src $WIDE_TS, not $WIDE_TO"
wait_for 10 "lab/wide's mapping" named_field_is lab/wide reqid "$wide_reqid"
assert_eq "inactive $wide_reqid" "$(named_fields lab/wide state reqid)" "lab/wide: state, reqid"
assert_eq "$reason" "$(named_fields lab/wide reason)" "lab/wide: reason"
assert_eq 0 "$(named_fields lab/wide flows)" "lab/wide: flows"
show=$(xnat show)
assert_match "$show" "reqid $wide_reqid +lab/wide" "xnatctl show: the name next to the key"
assert_contains "$show" "$reason" "xnatctl show"
daemon_log_rewind
wait_for 10 "the daemon to log lab/wide's refusal" daemon_said "lab/wide: reqid $wide_reqid, from $LAN_NET to $WIDE_TO" ": inactive: $reason"

phase "config: lab/wide's line removed, SIGHUP: its mapping goes, the others stay"
daemon_config "map child=office/net to $MAPPED pending hold" "map child=lab/dmz to $LAB_MAPPED pending hold"
daemon_reload
wait_for 30 "lab/wide's mapping to go" eval '[ -z "$(named_fields lab/wide state)" ]'
daemon_alive
assert_named_bound office/net "$MAPPED" "$MAPPED/32"
assert_named_bound lab/dmz "$LAB_MAPPED" "$LAB_MAPPED/32"
exchange lan udp after-hup
exchange lan udp after-hup "$OTHER_HOST"
assert_eq "$MAPPED" "$(sources_of office after-hup)" "sources seen by the office host after SIGHUP"
assert_eq "$LAB_MAPPED" "$(sources_of other after-hup)" "sources seen by the lab host after SIGHUP"

phase "the WAN: only IKE and ESP"
capture_stop wan
assert_wan_clean wan "net 10.20.0.0/16 or host $LAN_HOST or net $OFFICE_LAN or net $OTHER_NET"
xnat show
sed 's/^/#   daemon: /' "$XNAT_TMP/daemon.log"
