#!/usr/bin/env bash
# An IKE daemon restart, libreswan: pluto (Debian's libreswan: 4.10 with
# the 6.12 test kernel, 5.2 in the Debian 13 guest; unpacked into
# $XNAT_TOOLS/libreswan, as its package conflicts with strongSwan's) on the
# home box (auto=ondemand, reqid=7 pinned in the conn) and on the office
# gateway; the mapping names the policy by reqid.  As tests/vm/45-strongswan-restart, with
# what libreswan 4.10 and 5.2 change: the on-demand trap policy has a
# template of reqid 0, so the reqid mapping is inactive (asserted, with its
# reason) until the SA is up, and whack --initiate starts the negotiation
# (see libreswan_trap_without_reqid in tests/ike.sh); the SA's policy, updated
# in place, is bound; pluto restarts, the policy comes back under a new index,
# the mapping follows it.  Only ESP and IKE on the WAN.
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

ike_restart_scenario libreswan "$(test_family)"
