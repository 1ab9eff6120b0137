#!/usr/bin/env bash
# libreswan drives the mapping through its updown hook: pluto on the home box
# and on the office gateway, the home box's connection "tunnel" with
# leftupdown= running `xnatctl updown` (chained to libreswan's own _updown),
# no reqid= anywhere (pluto picks one), the mapping configured by the
# connection's name in a config directory: `map child=tunnel to vip` over
# IPv4, where the office hands out the virtual IP from a one-address pool
# (rightaddresspool=, leftmodecfgclient=), `map child=tunnel to fd00:20::2`
# over IPv6, the selector static.  Checked: once the connection is up, the
# mapping exists, named "tunnel", keyed by the reqid of pluto's SA, with the
# virtual IP (or the static address); the LAN's UDP and TCP reach the office
# from it.  A live LAN flow runs while the connection goes down (whack
# --terminate, what `ipsec auto --down` does): the mapping stays, with its
# name and reqid, and the flow's packets are dropped, not sent in the clear.
# Up again: the mapping is bound to the new SA's policy, traffic flows.  Only
# ESP and IKE on the WAN throughout.
# families: 4 6
# timeout: 600
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../howto.sh"
. "$(dirname "$0")/../strongswan.sh"
. "$(dirname "$0")/../libreswan.sh"
. "$(dirname "$0")/../ike.sh"

require_root
require_cmd ip python3 unshare tcpdump timeout certutil
require_libreswan
require_module
require_ctl

CONN=tunnel

# named_fields FIELD...: fields of the mapping named $CONN in `xnatctl -j
# show`, as key_fields prints them; "absent" without such a mapping.
named_fields() {
	xnat -j show | python3 -c '
import json, sys
conn = sys.argv[1]
ms = [m for m in json.load(sys.stdin) if m.get("name") == conn]
if not ms:
    print("absent")
    sys.exit(0)
m, out = ms[0], []
for f in sys.argv[2:]:
    v = m["stats"][f] if f in m["stats"] else m[f]
    out.append(",".join(map(str, v)) if isinstance(v, list) else str(v))
print(" ".join(out))' "$CONN" "$@"
}
named_fields_are() {
	local want=$1
	shift
	[ "$(named_fields "$@")" = "$want" ]
}

# sa_reqid: the reqid of pluto's SA home -> office gateway, empty without one.
sa_reqid() {
	run_in home ip xfrm state list src "$HOME_WAN" dst "$GW_WAN" proto esp |
		awk '$1 == "proto" {for (i = 1; i < NF; i++) if ($i == "reqid") {print $(i + 1); exit}}'
}
sa_is_up() { [ -n "$(sa_reqid)" ]; }
sa_is_gone() { [ -z "$(sa_reqid)" ]; }

# out_policy_index: the index of the home box's out policy of $TO, empty
# without one.
out_policy_index() { trap_index "$TO/$HOSTLEN"; }

# live_arrived: datagrams of the live LAN flow that reached the office.
live_arrived() { grep -cw live "$XNAT_TMP/office.log" || true; }
live_arrived_ge() { [ "$(live_arrived)" -ge "$1" ]; }

# up WHEN: whack --initiate, what `ipsec auto --up` does; then the SA, its
# out policy, and the mapping bound to it (leftupdown= ran xnatctl updown),
# named $CONN, keyed by the SA's reqid, translating to $TO.
up() {
	local when=$1 reqid idx
	# whack's exit status tells little (it waits for the SA, or not); the SA
	# in the kernel is what counts.
	run_in home timeout 60 "$LSW_EXEC/whack" --ctlsocket "$XNAT_TMP/home/run/pluto.ctl" \
		--initiate --name "$CONN" >"$XNAT_TMP/initiate-$when.log" 2>&1 || true
	wait_for 90 "pluto's SA home -> office gateway ($when)" sa_is_up
	reqid=$(sa_reqid)
	wait_for 10 "the out policy of $TO/$HOSTLEN ($when)" test -n "$(out_policy_index)"
	idx=$(out_policy_index)
	log "$when: pluto's SA has reqid $reqid, its out policy index $idx; updown's environment: $(grep -ao "PLUTO_SA_REQID=[0-9]*" "$XNAT_TMP/home/pluto.log" | tail -n 1)"
	xnat show
	wait_for 10 "the mapping named $CONN bound to policy $idx ($when)" \
		named_fields_are "active $idx" state policies
	assert_eq "$reqid None $TO" "$(named_fields reqid spid addr)" \
		"the mapping named $CONN ($when): reqid, spid, address"
	if [ "$FAM" = 4 ]; then
		assert_contains "$(grep -a "PLUTO_MY_SOURCEIP='$TO'" "$XNAT_TMP/home/pluto.log" | head -n 1)" "$TO" \
			"pluto's updown environment: the virtual IP ($when)"
	fi
	exchange lan udp "lan-udp-$when"
	exchange lan tcp "lan-tcp-$when"
	UP_REQID=$reqid
}

fam=$(test_family)
howto_net "$fam"
howto_servers
# IPv4: the virtual IP the office gives, not the address the IPv6 case maps
# to statically, so that the office seeing it shows where it came from.
if [ "$FAM" = 4 ]; then TO=$MAPPED2 WORDS="to vip"; else TO=$MAPPED WORDS="to $MAPPED"; fi
capture_start router r-home wan
load_module
# pluto's logs (with the updown commands it ran) stay with the test's log.
[ -z "${XNAT_SUBTAP:-}" ] ||
	on_exit "cp '$XNAT_TMP/home/pluto.log' '${XNAT_SUBTAP%.phases}.pluto-home.log'; cp '$XNAT_TMP/office/pluto.log' '${XNAT_SUBTAP%.phases}.pluto-office.log'"

mkdir -p "$XNAT_TMP/xfrm-nat.d"
printf '# the connection of libreswan'"'"'s ipsec.conf\nmap child=%s %s\n' "$CONN" "$WORDS" \
	>"$XNAT_TMP/xfrm-nat.d/office.conf"
updown="$XNAT_CTL updown --config-dir $XNAT_TMP/xfrm-nat.d"

if [ "$FAM" = 4 ]; then
	pluto_run gw office <<-EOF
		left=$GW_WAN
		leftsubnet=$OFFICE_NET
		right=$HOME_WAN
		rightaddresspool=$TO-$TO
		leftupdown=%disabled
		auto=add
	EOF
	pluto_run home home <<-EOF
		left=$HOME_WAN
		leftmodecfgclient=yes
		right=$GW_WAN
		rightsubnet=$OFFICE_NET
		leftupdown="$updown"
		auto=add
	EOF
else
	pluto_run gw office <<-EOF
		left=$GW_WAN
		leftsubnet=$OFFICE_NET
		right=$HOME_WAN
		rightsubnet=$TO/$HOSTLEN
		leftupdown=%disabled
		auto=add
	EOF
	pluto_run home home <<-EOF
		left=$HOME_WAN
		leftsubnet=$TO/$HOSTLEN
		right=$GW_WAN
		rightsubnet=$OFFICE_NET
		leftupdown="$updown"
		auto=add
	EOF
fi
assert_eq absent "$(named_fields state)" "the mapping named $CONN before the connection is up"

phase "up: the mapping named $CONN, keyed by pluto's reqid"
up first
reqid1=$UP_REQID
assert_eq "$TO" "$(office_sources)" "sources seen by the office host"

phase "down under a live flow: the mapping stays, nothing leaves in the clear"
run_in lan $PEER udp-send "$OFFICE_HOST" 5001 live --count 4000 --interval 0.05 --keep-going \
	>"$XNAT_TMP/live.out" 2>&1 &
live=$!
on_exit "kill $live"
wait_for 60 "3 datagrams of the live LAN flow at the office" live_arrived_ge 3
drops=$(named_fields fail_closed_drops)
run_in home timeout 60 "$LSW_EXEC/whack" --ctlsocket "$XNAT_TMP/home/run/pluto.ctl" \
	--name "$CONN" --terminate >"$XNAT_TMP/terminate.log" 2>&1 || true
wait_for 60 "pluto's SA to go" sa_is_gone
wait_for 10 "the mapping named $CONN to go inactive" named_fields_are inactive state
assert_eq "$reqid1 $TO" "$(named_fields reqid addr)" "the mapping named $CONN once down: reqid, address"
arrived=$(live_arrived)
wait_for 30 "5 fail-closed drops of the live flow" eval '[ "$(named_fields fail_closed_drops)" -ge $((drops + 5)) ]'
assert_eq "$arrived" "$(live_arrived)" "datagrams of the live flow at the office while down"
xnat show

phase "up again: bound again"
up again
assert_eq "$reqid1" "$UP_REQID" "pluto's reqid of $CONN, second time up"
wait_for 60 "the live flow to resume" live_arrived_ge $((arrived + 3))
kill "$live" 2>/dev/null || true
wait "$live" 2>/dev/null || true
assert_eq "$TO" "$(office_sources)" "sources seen by the office host"

phase "only ESP and IKE on the WAN"
log "the updown verbs pluto ran, in order: $(grep -ao "PLUTO_VERB='[a-z0-9-]*'" "$XNAT_TMP/home/pluto.log" | cut -d"'" -f2 | tr '\n' ' ')"
capture_stop wan
wan_only_ike_esp wan "$TO"
