#!/usr/bin/env bash
# Sanity of the test VM itself: the kernel, namespaces, veth, xfrm, nftables.
# timeout: 60
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

require_root
require_cmd ip nft ping tcpdump

log "kernel $(uname -r)"
# The series the test kernel was built from (KSERIES, see scripts/build-kernel.sh).
assert_match "$(uname -r)" "^${KSERIES:-6.12}\." "kernel version"

netns_create a b
veth_pair a va 10.0.0.1/24 b vb 10.0.0.2/24
capture_start b vb wire
ping_ok a 10.0.0.2 2
capture_stop wire
assert_eq 2 "$(capture_count wire 'icmp[icmptype] == icmp-echo')" "echo requests captured on vb"
assert_eq 0 "$(capture_count wire esp)" "ESP packets captured on vb"

# Static IPsec state and policy, as the later tests set them up.
run_in a ip xfrm state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x100 \
	mode tunnel aead 'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f1011121314 128
run_in a ip xfrm policy add src 10.1.0.0/24 dst 10.2.0.0/24 dir out \
	tmpl src 10.0.0.1 dst 10.0.0.2 proto esp mode tunnel
assert_contains "$(run_in a ip xfrm state list)" "spi 0x00000100" "ip xfrm state list"
assert_match "$(run_in a ip -s xfrm policy list)" 'index [0-9]+' "ip -s xfrm policy list"

run_in a nft add table inet t
run_in a nft add chain inet t post '{ type nat hook postrouting priority srcnat; }'
run_in a nft add rule inet t post ip daddr 10.2.0.0/24 snat ip to 10.1.0.1
assert_contains "$(run_in a nft list ruleset)" "snat ip to 10.1.0.1" "nft list ruleset"
