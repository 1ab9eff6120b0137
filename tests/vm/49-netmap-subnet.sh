#!/usr/bin/env bash
# 1:1 prefix mapping (NETMAP style): two LAN hosts, 192.168.1.17 and
# 192.168.1.18 (IPv6: fd00:1::17 and fd00:1::18), in two namespaces behind the
# home box, mapped with `map spid=N from 192.168.1.0/24 to 10.20.30.0/24`
# (fd00:1::/64 to fd00:20::/64) into a tunnel whose policy selects that
# prefix: the office host sees 10.20.30.17 and 10.20.30.18 (fd00:20::17 and
# fd00:20::18),
# UDP, TCP and ping replies reach each LAN host, only ESP on the WAN.
# Refusals: from and to of different lengths (xnatctl), a policy that selects
# only part of the to prefix (at map time); the mapped policy coming back
# narrower makes the mapping inactive, with the reason.
# families: 4 6
# timeout: 420
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../howto.sh"
. "$(dirname "$0")/../netmap.sh"

require_root
require_cmd ip python3 tcpdump ping
require_module
require_ctl

netmap_scenario "$(test_family)"
