#!/usr/bin/env bash
# A flow that conntrack confirmed before the first mapping: a filter-only
# nftables ruleset (ct state) keeps conntrack running in the home box, and
# a LAN host pings the office before `xnatctl map`.  Its entry was
# confirmed without a NAT binding, and a confirmed entry cannot be bound
# any more: the module must remove it and drop the packet (counted as
# stale_entries), so that the next echo request starts a new, translated
# flow; not drop the ping's packets for as long as it keeps its entry
# alive.
# families: 4 6
# timeout: 150
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../field.sh"

field_require nft ping

preexisting_scenario "$(test_family)"
