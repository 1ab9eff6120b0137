#!/usr/bin/env bash
# A mapping's name (the IKE child's, which a daemon gives it), on the
# reference topology with static SAs and `ip xfrm policy` standing in for
# the IKE daemon: the child comes back under another reqid, and a map-new
# of the same name under the new reqid deletes the old mapping in the same
# change (monitor sees the unmap and the map as one sequence); a named
# mapping that its policy cannot carry is installed inactive with the
# reason, where an unnamed one is refused; save and restore keep the
# names.  Real packets: the office sees the moved mapping's address, the
# WAN only ESP.
# families: 4 6
# timeout: 300
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../howto.sh"
. "$(dirname "$0")/../reqid.sh"

require_root
require_module
require_ctl
require_cmd ip python3 tcpdump
fam=$(test_family)
# The policies select the mapped /24 (/64), so that a second address of it
# can be the moved mapping's.
howto_vars "$fam"
howto_setup "$fam" "$PLEN"
load_module
monitor_start "$XNAT_TMP/monitor.log"

log "a reqid mapping with a name: show prints it next to the key, -j as \"name\""
xnat map reqid=1 name home/net to "$MAPPED"
assert_eq "home/net active" "$(key_fields reqid=1 name state)" "name and state of reqid 1"
assert_match "$(xnat show)" "^reqid 1 home/net +$MAPPED +active" "show"
capture_start router r-home wan
exchange home udp before-move

log "the child comes back under reqid 2 (its policy and SA re-added with it)"
run_in home ip xfrm state delete src "$HOME_WAN" dst "$GW_WAN" proto esp spi 0x1000
xfrm_pair home "$HOME_WAN" "$GW_WAN" 0x1000 "$KEY_OUT" 2
run_in home ip xfrm policy update src "$MAPPED/$PLEN" dst "$OFFICE_NET" dir out \
	tmpl src "$HOME_WAN" dst "$GW_WAN" proto esp reqid 2 mode tunnel
wait_for 10 "the reqid 1 mapping to go inactive" key_field_is reqid=1 state inactive

log "the same name under reqid 2 moves the mapping: reqid 1's is gone, in one change"
xnat map reqid=2 name home/net to "$MAPPED2"
assert_eq "home/net active" "$(key_fields reqid=2 name state)" "name and state of reqid 2"
assert_fail xnat show reqid=1
assert_eq 1 "$(xnat -j show | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')" "mappings after the move"
exchange home udp after-move
exchange home tcp after-move-tcp
# The monitor's lines are "TIME EVENT...": the unmap of reqid 1 and the map
# of reqid 2, adjacent, in that order.
wait_for 10 "the monitor to see the move" grep -q " map reqid 2 name home/net " "$XNAT_TMP/monitor.log"
moved=$(grep -n -E " (unmap reqid 1|map reqid 2 name home/net .*)$" "$XNAT_TMP/monitor.log" | cut -d: -f1 | tr '\n' ' ')
unmap_line=$(grep -n " unmap reqid 1$" "$XNAT_TMP/monitor.log" | cut -d: -f1)
assert_eq "$unmap_line $((unmap_line + 1)) " "$moved" "monitor lines of the move (unmap, then map)"

log "a named mapping its policy cannot carry is installed inactive with the reason"
index=$(out_index "$MAPPED/$PLEN" "$OFFICE_NET")
if [ "$fam" = 4 ]; then outside=192.0.2.99; else outside=2001:db8:99::1; fi
out=$(run_in home "$XNAT_CTL" map "spid=$index" to "$outside" 2>&1) &&
	fail "an unnamed unfit mapping was accepted: $out"
assert_contains "$out" "policy $index selects src " "refusal of the unnamed mapping"
out=$(run_in home "$XNAT_CTL" map "spid=$index" name office/lan to "$outside" 2>&1) ||
	fail "the named unfit mapping was refused: $out"
assert_contains "$out" "xnatctl: warning: spid $index office/lan: inactive: policy $index selects src " "map's warning"
assert_eq "office/lan inactive" "$(key_fields "spid=$index" name state)" "the named unfit mapping"
reason=$(key_field "spid=$index" reason)
assert_contains "$reason" "policy $index selects src " "its reason"
assert_contains "$(xnat show)" "reason \"$reason\"" "show's reason line"
# It binds nothing: the flow still takes the reqid 2 mapping.
exchange home udp beside-unfit

log "save and restore keep the names"
saved=$(xnat save)
assert_contains "$saved" "map reqid=2 name home/net to $MAPPED2" "save"
assert_contains "$saved" "map spid=$index name office/lan to $outside" "save"
xnat save | xnat restore
assert_eq "$saved" "$(xnat save)" "save after restore"

capture_stop wan
assert_eq "$MAPPED" "$(awk '/before-move/ {print $2}' "$XNAT_TMP/office.log" | sort -u)" "source before the move"
assert_eq "$MAPPED2" "$(awk '/after-move|beside-unfit/ {print $2}' "$XNAT_TMP/office.log" | sort -u)" "source through the moved mapping"
assert_eq 0 "$(capture_count wan "host $OFFICE_HOST or host $MAPPED or host $MAPPED2 or host $LAN_HOST")" "plaintext of mapped flows on the WAN"
assert_ge 3 "$(capture_count wan "esp")" "ESP packets on the WAN"
