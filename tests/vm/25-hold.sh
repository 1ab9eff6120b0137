#!/usr/bin/env bash
# Hold mode, the SA added by hand (nothing answers ACQUIRE): datagrams sent
# while the mapped policy's SA is missing are sent without error and wait,
# translated; once the SA is added they reach the office host in order, from
# the mapped address, in ESP, and the reply finds the sender.  `xnatctl
# monitor` prints "sa pending" then "sa established".  Beyond hold-packets
# and hold-bytes packets are dropped and counted; a blocking TCP connect
# completes right after the SA arrives (its first SYN is the one answered);
# a held packet dies with the ACQUIRE lifetime (net.core.xfrm_acq_expires).
# Each of these is a phase with its own TAP line.
# families: 4 6
# timeout: 240
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../howto.sh"

require_root
require_cmd ip tcpdump python3 timeout
require_module
require_ctl

hold_scenario "$(test_family)"
