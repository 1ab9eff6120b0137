#!/usr/bin/env bash
# The NAT bindings the module made stay translated both ways and guarded
# (fail-closed) for their whole life, whatever happens to their mapping:
# after unmap (also of the last mapping), address replace and flush (with
# a masquerade rule on the WAN), deleting the policy under the live flows
# sends nothing in the clear.
# families: 4 6
# timeout: 240
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../howto.sh"

require_root
require_cmd ip tcpdump python3 ping nft
require_module
require_ctl

binding_scenario "$(test_family)"
