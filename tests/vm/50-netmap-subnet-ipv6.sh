#!/usr/bin/env bash
# 1:1 prefix mapping (NETMAP style), IPv6: two LAN hosts, fd00:1::17 and
# fd00:1::18, in two namespaces behind the home box, mapped with
# `map spid=N from fd00:1::/64 to fd00:20::/64` into a tunnel whose policy
# selects that prefix: the office host sees fd00:20::17 and fd00:20::18,
# UDP, TCP and ping replies reach each LAN host, only ESP on the WAN.
# Refusals: from and to of different lengths (xnatctl), a policy that selects
# only part of the to prefix (at map time); the mapped policy coming back
# narrower makes the mapping inactive, with the reason.
# timeout: 420
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../howto.sh"
. "$(dirname "$0")/../netmap.sh"

require_root
require_cmd ip python3 tcpdump ping
require_module
require_ctl

netmap_scenario 6
