#!/usr/bin/env bash
# The reference scenario (Documentation/reference-scenario.rst): after
# `xnatctl map spid=305 to 10.20.30.2` (IPv6: spid=313 to fd00:20::2), traffic
# from the home box and from its LAN reaches the office host with the mapped
# source, inside ESP; not before the mapping, not after unmap.
# families: 4 6
# timeout: 180
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../howto.sh"

require_root
require_cmd ip tcpdump python3 ping
require_module
require_ctl

howto_scenario "$(test_family)"
