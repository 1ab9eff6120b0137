#!/usr/bin/env bash
# libreswan drives the mapping through its updown hook: pluto on the home box
# and on the office gateway, the home box's connection "tunnel" with
# leftupdown= running `xnatctl updown` (chained to libreswan's own _updown),
# no reqid= anywhere (pluto picks one), the mapping configured by the
# connection's name in a config directory: `map child=tunnel to vip` over
# IPv4, where the office hands out the virtual IP from a one-address pool
# (rightaddresspool=, leftmodecfgclient=), `map child=tunnel to fd00:20::2`
# over IPv6, the selector static.  Checked: once the connection is up, the
# mapping exists, named "tunnel", keyed by the reqid of pluto's SA (which is
# PLUTO_SA_REQID + 1 for ESP when pluto picked it: libreswan's reqid_esp()),
# with the virtual IP (or the static address); the LAN's UDP and TCP reach
# the office from it.  The connection goes down (whack --terminate, what `ipsec auto
# --down` does): the mapping stays, with its name and reqid, and a LAN flow
# that it translated before is dropped (fail-closed), not sent in the clear.
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
trap_reqid_of() {
	run_in home ip xfrm policy list dir out src "$TO/$HOSTLEN" | awk '$1 == "tmpl" || /reqid/ {for (i = 1; i < NF; i++) if ($i == "reqid") {print $(i + 1); exit}}'
}

# kept_flow TAG [ARG...]: datagrams of one LAN flow, always the same
# 5-tuple (the same conntrack entry: the source port is fixed), tagged TAG.
KEPT_PORT=40001
kept_flow() {
	local tag=$1
	shift
	run_in lan $PEER udp-send "$OFFICE_HOST" 5001 "$tag" --bind "[$LAN_HOST]:$KEPT_PORT" "$@"
}
arrived() { grep -cw "$1" "$XNAT_TMP/office.log" || true; }

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
# The kept LAN flow's conntrack entry must outlive the connection's down
# time, which under TCG can pass UDP's 30 s.
run_in home sysctl -qw net.netfilter.nf_conntrack_udp_timeout=600 net.netfilter.nf_conntrack_udp_timeout_stream=600
# keep_logs: pluto's logs (with the updown commands it ran), whack's, and
# the home box's SAD and SPD as the test ends, beside the test's log.
keep_logs() {
	local to=${XNAT_SUBTAP%.phases} f
	{ run_in home ip -s xfrm state; run_in home ip -s xfrm policy; } >"$to.xfrm-home.log" 2>&1
	cp "$XNAT_TMP/home/pluto.log" "$to.pluto-home.log"
	cp "$XNAT_TMP/office/pluto.log" "$to.pluto-office.log"
	for f in "$XNAT_TMP"/*.log; do cp "$f" "$to.${f##*/}"; done
}
[ -z "${XNAT_SUBTAP:-}" ] || on_exit keep_logs

mkdir -p "$XNAT_TMP/xfrm-nat.d"
printf '# the connection of libreswan'"'"'s ipsec.conf\nmap child=%s %s\n' "$CONN" "$WORDS" \
	>"$XNAT_TMP/xfrm-nat.d/office.conf"
# libreswan's own updown (routes, the virtual IP's address) runs after
# xnatctl's, as the documented chain has it; in pluto's mount namespace
# /usr/libexec is the unpacked package's (tests/libreswan.sh).
updown="$XNAT_CTL updown --config-dir $XNAT_TMP/xfrm-nat.d --chain /usr/libexec/ipsec/_updown"

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

out=$(kept_flow kept-up --count 3 2>&1) || fail "the kept LAN flow, up: $out"
assert_contains "$out" "ok kept-up" "reply on the kept LAN flow"

phase "down: the mapping stays, the flow it translated is not sent in the clear"
# Only once the connection is down: a packet of the flow while pluto tears
# the SA down meets its policy, and the kernel's ACQUIRE makes pluto bring
# the connection up again on demand (libreswan 4.10 does so).
run_in home timeout 60 "$LSW_EXEC/whack" --ctlsocket "$XNAT_TMP/home/run/pluto.ctl" \
	--name "$CONN" --terminate >"$XNAT_TMP/terminate.log" 2>&1 || true
wait_for 60 "pluto's SA to go" sa_is_gone
# libreswan 4.10 routes the connection once it is up (route-client), so
# --terminate leaves its on-demand trap policy, of template reqid 0, in
# place of the SA's: the mapping's reqid has no policy either way.
log "down: the out policy of $TO/$HOSTLEN: $(out_policy_index | sed 's/^$/none/;s/^[0-9]/index &/'), template reqid $(trap_reqid_of)"
wait_for 10 "the mapping named $CONN to go inactive" named_fields_are inactive state
assert_eq "$reqid1 $TO" "$(named_fields reqid addr)" "the mapping named $CONN once down: reqid, address"
xnat show
# A datagram of the flow is translated by its conntrack entry and then meets
# the trap, not the mapping's policy: it is neither sent in the clear nor
# counted as a fail-closed drop; the kernel's ACQUIRE makes pluto bring the
# connection up again on demand (seen with libreswan 4.10).
capture_start router r-home down
out=$(kept_flow kept-down --count 5 --keep-going 2>&1) || fail "the kept LAN flow, down: $out"
capture_stop down
assert_eq 0 "$(capture_count down "host $OFFICE_HOST or host $TO or host $LAN_HOST")" \
	"packets of the kept LAN flow in the clear on the WAN while down"
log "down: fail-closed drops $(named_fields fail_closed_drops); datagrams at the office $(arrived kept-down)"

phase "up again: bound again"
up again
assert_eq "$reqid1" "$UP_REQID" "pluto's reqid of $CONN, second time up"
assert_eq "$TO" "$(office_sources)" "sources seen by the office host"

phase "only ESP and IKE on the WAN"
log "the updown verbs pluto ran, in order: $(grep -ao "executing [a-z0-9-]*: 2>&1 PLUTO_VERB" "$XNAT_TMP/home/pluto.log" | cut -d' ' -f2 | tr -d : | tr '\n' ' ')"
capture_stop wan
wan_only_ike_esp wan "$TO"
