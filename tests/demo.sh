#!/usr/bin/env bash
# `make demo`: runs inside the test VM (scripts/vm-run.sh) and shows the
# module at work.  First version: load, look, unload.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

step() { printf '\n$ %s\n' "$*"; "$@"; }

require_module
echo "kernel $(uname -r); module $XNAT_KO"

step insmod "$XNAT_KO"
step lsmod
printf '\n$ dmesg | grep xfrm_nat\n'
dmesg | grep -i xfrm_nat || echo "(the module logged nothing)"
step genl ctrl get name xfrm_nat
step rmmod xfrm_nat
echo
echo "demo done"
