#!/usr/bin/env bash
# `xnatctl daemon` with strongSwan's charon: `to vip`, the virtual IP the
# office gateway's pool gives the home box (`vips = 0.0.0.0`), no reqid
# pinned:
#
#   home:   road/net  local_ts dynamic (the vip)  remote_ts 10.0.0.0/8
#   office: pools = pool-a (172.30.1.0/24), later pool-b (172.30.2.0/24)
#   config: map child=road/net to vip pending hold
#
#   - The daemon runs before the child is up; once charon brings it up the
#     mapping is bound to the child's reqid, to the vip; the office host
#     sees the vip as the LAN host's source.
#   - The child goes down (the IKE_SA terminated): the mapping stays.
#   - The office gateway's connection changed to pool-b, the home box
#     initiates again: the mapping follows to the new vip, and the office
#     sees the new vip.
#   - The WAN carries only IKE and ESP.
# timeout: 360
set -euo pipefail
. "$(dirname "$0")/../daemon.sh"
daemon_require

howto_net 4
howto_servers
VIP_A=172.30.1.1 VIP_B=172.30.2.1
# office_conf POOL: the office gateway's swanctl.conf, leases from POOL.
office_conf() {
	swanctl_write office "$(ss_conn gw road office home "$(ss_child net "$OFFICE_NET" dynamic none)" "pools = $1")" \
		"pool-a { addrs = ${VIP_A%.*}.0/24 }
pool-b { addrs = ${VIP_B%.*}.0/24 }"
}
office_conf pool-a
swanctl_write home "$(ss_conn home road home office "$(ss_child net dynamic "$OFFICE_NET" none)" "vips = 0.0.0.0")"
capture_start router r-home wan
charon_launch gw office
charon_launch home home
load_module
daemon_config "map child=road/net to vip pending hold"
daemon_start

# initiate TAG: the home box brings road/net up.
initiate() {
	local out
	out=$(swanctl_home --initiate --ike road --child net --timeout 60 2>&1) ||
		fail "swanctl --initiate ($1): $out"
}
# home_vip: the virtual IP of the home box's IKE_SA road, from swanctl.
home_vip() {
	swanctl_home --list-sas --ike road 2>/dev/null | awk '/local/ && /\/32/ {sub("/32", "", $2); print $2; exit}'
}

phase "the child comes up: the mapping binds its reqid, to the vip $VIP_A"
initiate first
wait_for 30 "charon's out policy from $VIP_A" has_policy "$VIP_A/32"
assert_eq "$VIP_A" "$(home_vip)" "the IKE_SA's vip, swanctl --list-sas"
[ -n "$(run_in home ip -4 -o addr show to "$VIP_A/32")" ] || fail "charon did not install $VIP_A on the home box: $(run_in home ip -4 -o addr)"
reqid_a=$(policy_reqid "$VIP_A/32")
assert_eq "$reqid_a" "$(charon_sa_reqid road net)" "the CHILD_SA's reqid, swanctl --list-sas"
assert_named_bound road/net "$VIP_A" "$VIP_A/32"
wait_for 10 "the daemon to log road/net's mapping" daemon_said "road/net: reqid $reqid_a, to $VIP_A" ": mapped"
xnat show
exchange lan udp vip-a
exchange lan tcp vip-a-tcp
assert_eq "$VIP_A" "$(sources_of office vip-a)" "sources seen by the office host"
assert_ge 2 "$(named_fields road/net flows)" "road/net: flows"

phase "the child goes down: the mapping stays"
out=$(swanctl_home --terminate --ike road 2>&1) || fail "swanctl --terminate: $out"
wait_for 30 "the home box's SAs to go" no_sas home
wait_for 30 "the policy from $VIP_A to go" no_policy "$VIP_A/32"
assert_eq "inactive $VIP_A" "$(named_fields road/net state addr)" "road/net with its child down: state, address"
daemon_alive

phase "reconnected with the office gateway's pool-b: the mapping follows to $VIP_B"
office_conf pool-b
out=$(swanctl --load-all --uri "unix://$XNAT_TMP/office/charon.vici" --file "$XNAT_TMP/office/swanctl.conf" 2>&1) ||
	fail "swanctl --load-all (office, pool-b): $out"
initiate second
wait_for 30 "charon's out policy from $VIP_B" has_policy "$VIP_B/32"
assert_eq "$VIP_B" "$(home_vip)" "the IKE_SA's vip, swanctl --list-sas"
reqid_b=$(policy_reqid "$VIP_B/32")
log "road/net: reqid $reqid_a with $VIP_A, reqid $reqid_b with $VIP_B"
assert_named_bound road/net "$VIP_B" "$VIP_B/32"
wait_for 10 "the daemon to log road/net's new vip" daemon_said "road/net: reqid $reqid_b, to $VIP_B" ": mapped"
xnat show
exchange lan udp vip-b
exchange lan tcp vip-b-tcp
assert_eq "$VIP_B" "$(sources_of office vip-b)" "sources seen by the office host after the reconnect"

phase "the WAN: only IKE and ESP"
capture_stop wan
assert_wan_clean wan "net 10.0.0.0/8 or net 172.30.0.0/16 or host $LAN_HOST"
sed 's/^/#   daemon: /' "$XNAT_TMP/daemon.log"
