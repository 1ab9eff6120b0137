#!/usr/bin/env bash
# Hold mode against a real IKE daemon: strongSwan's charon on the home box (a
# trap policy 10.20.30.2/32 === 10.0.0.0/8 or fd00:20::2/128 === fd00:10::/48,
# start_action = trap) and on the
# office gateway.  With the trap policy's index mapped in hold mode, the very
# first UDP datagram waits while the negotiation it triggers runs and then
# reaches the office host from the mapped source; once the IKE_SA is terminated, a TCP
# connect as the first packet completes right after the new CHILD_SA is
# installed (its first SYN is answered).  Prints the negotiation and connect
# times.
# families: 4 6
# timeout: 240
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../howto.sh"
. "$(dirname "$0")/../strongswan.sh"

require_root
require_cmd ip python3 unshare swanctl tcpdump timeout
[ -x /usr/lib/ipsec/charon ] || fail "/usr/lib/ipsec/charon missing (Debian package strongswan-charon, installed by make deps)"
require_module
require_ctl

strongswan_scenario "$(test_family)" hold
