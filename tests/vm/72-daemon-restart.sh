#!/usr/bin/env bash
# `xnatctl daemon` with strongSwan's charon: the daemon restarted, then
# charon restarted, under a steady UDP flow and a ping from the LAN host to
# the office host.  One connection, no reqid pinned:
#
#   home:   office/net  10.20.30.2/32 === 10.0.0.0/8, start_action = trap
#   config: map child=office/net to 10.20.30.2 pending hold
#
#   - The daemon stops (SIGTERM): the kernel keeps the mapping, the flow goes
#     on; it starts again: the same mapping (reqid, address, policy), and it
#     has nothing to change.
#   - charon stops: its policies go, the mapping stays (inactive), the flow
#     is dropped, not sent in the clear.  charon starts again: the daemon
#     binds the mapping by name to the reqid charon now allocates; the
#     steady flow goes on through the new CHILD_SA, new flows too, all from
#     10.20.30.2.
#   - During the whole time the WAN carries no packet of the inner
#     addresses: only IKE and ESP.
# timeout: 420
set -euo pipefail
. "$(dirname "$0")/../daemon.sh"
daemon_require

howto_net 4
howto_servers
swanctl_write home "$(ss_conn home office home office "$(ss_child net "$MAPPED/32" "$OFFICE_NET" trap)")"
swanctl_write office "$(ss_conn gw office office home "$(ss_child net "$OFFICE_NET" "$MAPPED/32" none)")"
capture_start router r-home wan
charon_launch gw office
charon_launch home home
wait_for 60 "charon's trap policy on the home box" has_policy "$MAPPED/32"
load_module
daemon_config "map child=office/net to $MAPPED pending hold"
daemon_start
reqid1=$(policy_reqid "$MAPPED/32")
assert_named_bound office/net "$MAPPED" "$MAPPED/32"

phase "a steady UDP flow and a ping from the LAN host, through the negotiation"
lan_flow steady
run_in lan ping -D -n -i 0.2 -c 3000 "$OFFICE_HOST" >"$XNAT_TMP/ping.out" 2>&1 &
on_exit "kill $! 2>/dev/null"
wait_for 90 "the steady flow at the office" office_from_ge "$MAPPED" steady 5
wait_for 30 "ping replies" ping_replies_after_ge 0 "$XNAT_TMP/ping.out" 3
assert_eq "$reqid1" "$(charon_sa_reqid office net)" "the CHILD_SA's reqid, swanctl --list-sas"
assert_eq "$MAPPED" "$(office_sources)" "sources seen by the office host"

phase "the daemon restarts: the kernel keeps the mapping meanwhile, the flow goes on"
before=$(named_fields office/net reqid addr policies pending)
flows0=$(named_fields office/net flows)
daemon_stop
n0=$(office_from "$MAPPED" steady)
wait_for 30 "the steady flow to go on with the daemon stopped" office_from_ge "$MAPPED" steady $((n0 + 10))
assert_eq "active $reqid1 $MAPPED" "$(named_fields office/net state reqid addr)" "office/net with the daemon stopped"
daemon_start
# At start-up it reconciles: the mapping it binds is the one already there.
wait_for 30 "the daemon to map office/net at start-up" daemon_said "office/net: reqid $reqid1, to $MAPPED" ": mapped"
daemon_alive
assert_eq "$before" "$(named_fields office/net reqid addr policies pending)" \
	"office/net after the daemon's restart: reqid, address, policies, pending mode"
assert_ge "$flows0" "$(named_fields office/net flows)" "office/net's flows after the daemon's restart"
assert_eq active "$(named_fields office/net state)" "office/net's state after the daemon's restart"
n0=$(office_from "$MAPPED" steady)
wait_for 30 "the steady flow to go on after the daemon's restart" office_from_ge "$MAPPED" steady $((n0 + 10))
daemon_log_since_mark | sed 's/^/#   daemon: /'

phase "charon restarts: the mapping stays while it is down, then binds the new reqid"
charon_stop home
wait_for 30 "the trap policy to go with charon" no_policy "$MAPPED/32"
wait_for 10 "office/net to go inactive" named_field_is office/net state inactive
assert_eq "$reqid1 $MAPPED" "$(named_fields office/net reqid addr)" "office/net while charon is stopped: reqid, address"
sleep 1
n0=$(office_from "$MAPPED" steady)
drops=$(named_fields office/net fail_closed_drops)
sleep 2
assert_eq "$n0" "$(office_from "$MAPPED" steady)" "datagrams of the steady flow at the office while charon is stopped"
assert_ge $((drops + 10)) "$(named_fields office/net fail_closed_drops)" "office/net's fail-closed drops over 2 s with charon stopped"
daemon_alive
daemon_log_mark
charon_launch home home
wait_for 60 "charon's trap policy after its restart" has_policy "$MAPPED/32"
reqid2=$(policy_reqid "$MAPPED/32")
log "office/net's reqid: $reqid1 before charon's restart, $reqid2 after"
# The kernel rebinds a reqid that charon gives again by itself: the proof
# that the daemon found charon again is its log.
wait_for 60 "the daemon to map office/net after charon's restart" daemon_said "office/net: reqid $reqid2, to $MAPPED" ": mapped"
assert_named_bound office/net "$MAPPED" "$MAPPED/32"
daemon_log_since_mark | sed 's/^/#   daemon: /'
# The steady flow's own packets meet the new trap policy and start the
# negotiation; its conntrack entry, bound before the restart, goes on.
wait_for 90 "the steady flow to go on through the new CHILD_SA" office_from_ge "$MAPPED" steady $((n0 + 5))
exchange lan udp after-charon
exchange lan tcp after-charon-tcp
assert_eq "$reqid2" "$(charon_sa_reqid office net)" "the CHILD_SA's reqid after charon's restart, swanctl --list-sas"
assert_eq "$MAPPED" "$(sources_of office after-charon)" "sources seen by the office host after charon's restart"
assert_eq "$MAPPED" "$(office_sources)" "sources seen by the office host"

phase "the WAN: none of the flows' packets in the clear during the whole time, only IKE and ESP"
kill "$flow" 2>/dev/null || true
capture_stop wan
assert_wan_clean wan "host $LAN_HOST or host $OFFICE_HOST or host $MAPPED"
log "ping: $(tail -n 2 "$XNAT_TMP/ping.out" | head -n 1)"
sed 's/^/#   daemon: /' "$XNAT_TMP/daemon.log"
