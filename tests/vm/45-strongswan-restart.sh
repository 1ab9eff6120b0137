#!/usr/bin/env bash
# An IKE daemon restart, strongSwan: charon on the home box (a trap policy
# 10.20.30.2/32 === 10.0.0.0/8 or fd00:20::2/128 === fd00:10::/48,
# start_action = trap, reqid = 7 pinned in swanctl.conf)
# and on the office gateway; the mapping names the policy by reqid.  The first
# send gets EAGAIN, the CHILD_SA comes up, the office sees the mapped source.
# charon restarts: its trap policy comes back under a new index (asserted),
# the reqid mapping binds it by itself, a spid mapping of the old index stays
# inactive with its reason; the next first send gets EAGAIN, the CHILD_SA comes
# up again, traffic flows from the mapped source.  Only ESP and IKE on the
# WAN.
# families: 4 6
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

ike_restart_scenario strongswan "$(test_family)"
