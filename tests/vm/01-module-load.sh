#!/usr/bin/env bash
# The module loads, registers its generic netlink family (visible from every
# network namespace) and unloads cleanly.
# timeout: 60
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

require_root
require_cmd genl insmod rmmod
require_module

netns_create early
load_module
module_loaded || fail "xfrm_nat not in /proc/modules after insmod"
assert_contains "$(genl_families)" "xfrm_nat" "genl ctrl list"
# A namespace that existed before the load, and one made after it.
assert_contains "$(genl_families early)" "xfrm_nat" "genl ctrl list in a namespace made before insmod"
netns_create late
assert_contains "$(genl_families late)" "xfrm_nat" "genl ctrl list in a namespace made after insmod"

# The namespaces go before the unload, as a user would do it.
ip netns del early
ip netns del late
unload_module
module_loaded && fail "xfrm_nat still in /proc/modules after rmmod"
assert_not_contains "$(genl_families)" "xfrm_nat" "genl ctrl list after rmmod"
