#!/usr/bin/env bash
# A reqid mapping follows its policies as they are deleted and re-added
# under new indexes (what an IKE daemon does on restart), with no IKE
# daemon in the way: static SAs and `ip xfrm policy`.  Also the rules of
# docs "Keys: spid and reqid": a spid mapping of the old index goes
# inactive with its reason; a spid mapping wins over a reqid mapping on the
# policy it names; a policy of the other family with the same reqid is not
# bound.  Real packets: the office sees the mapped source, the WAN only ESP.
# families: 4 6
# timeout: 300
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../howto.sh"
. "$(dirname "$0")/../reqid.sh"

require_root
require_cmd ip tcpdump python3
require_module
require_ctl

reqid_follow_scenario "$(test_family)"
