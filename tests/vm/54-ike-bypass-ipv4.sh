#!/usr/bin/env bash
# A full tunnel (home's out policy 10.20.30.2/32 -> 0.0.0.0/0, mapped) and
# the IKE daemon's own socket: charon and pluto give their IKE sockets an
# allow policy of their own (IP_XFRM_POLICY), so IKE leaves in plaintext
# from the WAN address although the tunnel covers every destination.  The
# mapping's selectors cover the IKE flow, but the SPD, asked with the
# socket's policy, gives it none of the mapping's: it must be left as it is
# (declined), not translated and then dropped as fail-closed, which failed
# the daemon's sendto with EHOSTUNREACH and kept the tunnel from ever
# coming up again.  Ordinary traffic from the home box and its LAN is still
# translated into the tunnel.
# timeout: 180
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../field.sh"

field_require

field_net 4
field_tunnel "$MAPPED/32" 0.0.0.0/0 1 index "$SPID"
# An IKE responder's stand-in on the office gateway, port 500.
run_in gw $PEER udp-server 500 "$XNAT_TMP/gw.log" &
on_exit "kill $!"
wait_for 30 "the gateway's UDP 500 server" test -e "$XNAT_TMP/gw.log.ready-udp500"

# ike_exchange TAG: charon's IKE_SA_INIT as far as addresses go: from
# $HOME_WAN:500 to $GW_WAN:500 on a socket with the bypass policy.
ike_exchange() {
	run_in home $PEER udp-send "$GW_WAN" 500 "$1" --bind "$HOME_WAN:500" --xfrm-bypass --timeout 5 2>&1
}

log "without a mapping, the bypassed IKE socket reaches the gateway (the plumbing)"
out=$(ike_exchange ike-plain) || fail "IKE exchange without a mapping: $out"
assert_contains "$out" "ok ike-plain" "IKE reply without a mapping"

load_module
xnat map "spid=$SPID" to "$MAPPED"
assert_eq active "$(mapping_field "$SPID" state)" "mapping state"

log "with the full tunnel mapped, IKE still leaves in plaintext from $HOME_WAN:500"
capture_start router r-home ike "udp port 500"
out=$(ike_exchange ike-mapped) || fail "IKE exchange with the full tunnel mapped (sendto or reply): $out"
assert_contains "$out" "ok ike-mapped" "IKE reply with the full tunnel mapped"
capture_stop ike
assert_contains "$(cat "$XNAT_TMP/gw.log")" "udp $HOME_WAN ike-mapped" "what the gateway's port 500 received"
assert_ge 1 "$(capture_count ike "src host $HOME_WAN and src port 500 and dst host $GW_WAN and dst port 500")" \
	"plaintext IKE from $HOME_WAN:500 on the WAN"
assert_eq 0 "$(capture_count ike "host $MAPPED")" "IKE packets with the mapped address"

log "ordinary traffic is translated into the tunnel"
capture_start router r-home tunnel
exchange home udp home-udp
exchange home tcp home-tcp
exchange lan udp lan-udp
exchange lan tcp lan-tcp
capture_stop tunnel
assert_eq "$MAPPED" "$(office_sources)" "sources seen by the office"
assert_ge 8 "$(capture_count tunnel "esp and src host $HOME_WAN and dst host $GW_WAN")" "ESP packets to the gateway"
no_plaintext tunnel "$OFFICE_HOST" "$MAPPED" "$LAN_HOST"

field_counters_ok 1
