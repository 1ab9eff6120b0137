#!/usr/bin/env bash
# While the mapped policy's SA is pending (here: missing, nothing answers
# ACQUIRE), eagain mode refuses new flows at once: UDP sendto and TCP
# connect (blocking and non-blocking) fail with EAGAIN, ACQUIRE is sent;
# once the SA is added the next send goes through.  Drop mode drops
# silently.
# families: 4 6
# timeout: 240
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../howto.sh"

require_root
require_cmd ip python3
require_module
require_ctl

pending_scenario "$(test_family)"
