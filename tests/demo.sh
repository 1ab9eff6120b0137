#!/usr/bin/env bash
# `make demo`: the reference scenario (Documentation/reference-scenario.rst),
# narrated, inside the test VM (scripts/vm-run.sh).  A home worker's LAN and home box must appear as the
# office-internal 10.20.30.2 inside the IPsec tunnel to the office's 10/8.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/howto.sh"

require_module
require_ctl
say() { printf '\n=== %s\n' "$*"; }
step() { printf '\n[%s]$ %s\n' "$1" "${*:2}"; run_in "$1" "${@:2}"; }

say "Topology (network namespaces): lan 192.168.1.10 -- home 192.168.1.1 / WAN 200.2.2.2 -- router (the Internet) -- office gateway 100.1.1.1 -- office host 10.0.0.1"
howto_setup 4
echo "home's SPD, as the IKE daemon would have set it up (static here):"
step home ip -s xfrm policy list dir out
say "Without xfrm-nat: the home box sends from 200.2.2.2, the policy (src 10.20.30.2/32) does not match, nothing reaches the office"
step home ping -n -c1 -W1 10.0.0.1 || true

say "Load the module and map policy 305 to 10.20.30.2"
load_module
echo "$ insmod $XNAT_KO"
dmesg | grep -i xfrm_nat | tail -n 2 || true
step home genl ctrl get name xfrm_nat
step home "$XNAT_CTL" map spid=305 to 10.20.30.2
step home "$XNAT_CTL" show

say "Ping and a TCP exchange through the tunnel, from the home box and from the LAN"
capture_start router r-home demo
step home ping -n -c2 10.0.0.1
step lan ping -n -c2 10.0.0.1
step home $PEER tcp-send 10.0.0.1 5002 "hello from home"
step lan $PEER tcp-send 10.0.0.1 5002 "hello from the LAN"
capture_stop demo

say "What the office host saw (source addresses):"
cat "$XNAT_TMP/office.log"
say "What crossed the Internet (router's capture): only ESP between 200.2.2.2 and 100.1.1.1"
capture_show demo | head -n 12
echo "... $(capture_count demo esp) ESP packets, $(capture_count demo 'not esp and not arp and not icmp6') others"

say "Counters: the mapping and the SA"
step home "$XNAT_CTL" -s show
step home ip -s xfrm state get src 200.2.2.2 dst 100.1.1.1 proto esp spi 0x1000
echo
echo "demo done"
