#!/usr/bin/env bash
# Fail closed: when the mapped policy is deleted under a live NATed flow, no
# packet with the NAT source leaves in plaintext; they are dropped and
# counted.  Re-adding the policy with the same index reactivates the
# mapping, and traffic flows again.
# families: 4 6
# timeout: 180
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../howto.sh"

require_root
require_cmd ip tcpdump python3
require_module
require_ctl

fail_closed_scenario "$(test_family)"
