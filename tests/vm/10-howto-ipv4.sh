#!/usr/bin/env bash
# The HOWTO's scenario over IPv4: after `xnatctl map spid=305 to 10.20.30.2`,
# traffic from the home box and from its LAN reaches the office host with
# source 10.20.30.2, inside ESP; not before the mapping, not after unmap.
# timeout: 180
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../howto.sh"

require_root
require_cmd ip tcpdump python3 ping
require_module
require_ctl

howto_scenario 4
