#!/usr/bin/env bash
# 50-reqid-follow-ipv4, for IPv6: the reqid mapping follows its re-added
# policy, spid-over-reqid precedence, other-family policies not bound.
# timeout: 200
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../howto.sh"
. "$(dirname "$0")/../reqid.sh"

require_root
require_cmd ip tcpdump python3
require_module
require_ctl

reqid_follow_scenario 6
