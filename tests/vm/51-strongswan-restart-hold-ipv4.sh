#!/usr/bin/env bash
# An IKE daemon restart, strongSwan, hold mode: as 45-strongswan-restart (IPv4),
# the reqid mapping in hold mode: the very first datagram, before and after
# charon's restart (the trap policy under a new index, asserted), waits while
# the negotiation it starts runs and is delivered from 10.20.30.2; counted
# held and released.  Only ESP and IKE on the WAN.  IPv4.
# timeout: 600
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../howto.sh"
. "$(dirname "$0")/../strongswan.sh"
. "$(dirname "$0")/../libreswan.sh"
. "$(dirname "$0")/../ike.sh"

require_root
require_cmd ip python3 unshare tcpdump timeout swanctl
[ -x /usr/lib/ipsec/charon ] || fail "/usr/lib/ipsec/charon missing (Debian package strongswan-charon, installed by make deps)"
require_module
require_ctl

ike_restart_scenario strongswan 4 hold
