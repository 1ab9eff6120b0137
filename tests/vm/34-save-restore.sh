#!/usr/bin/env bash
# The mapping set as a file: `xnatctl save` prints it, `xnatctl restore`
# replaces the namespace's whole set in one map-set request (save | restore
# is the identity, unchanged mappings keep their counters), a bad line
# changes nothing and is named by its line number, and `xnatctl -f` applies
# a file of commands at once.  Then the documented limit itself: 65536
# mappings in one request, one more refused, with nothing in the kernel log.
# timeout: 300
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../howto.sh"

require_root
require_cmd ip python3
require_module
require_ctl

howto_setup 4
load_module
count() { xnat -j show | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))'; }

log "save | restore is the identity, and keeps the counters"
xnat map "spid=$SPID" to "$MAPPED" pending hold hold-packets 50
xnat map spid=9 to 10.9.0.9 pending drop
exchange lan udp before-restore
flows=$(mapping_field "$SPID" flows)
assert_ge 1 "$flows" "flows before the restore"
xnat save >"$XNAT_TMP/saved.conf"
log "saved:"; sed 's/^/#   /' "$XNAT_TMP/saved.conf"
assert_contains "$(cat "$XNAT_TMP/saved.conf")" "map spid=$SPID to $MAPPED pending hold hold-packets 50" "the saved hold mapping"
assert_contains "$(cat "$XNAT_TMP/saved.conf")" "map spid=9 to 10.9.0.9 pending drop" "the saved drop mapping"
before=$(xnat -j show)
xnat restore "$XNAT_TMP/saved.conf"
assert_eq "$before" "$(xnat -j show)" "the set after restoring what save printed"
assert_eq "$(cat "$XNAT_TMP/saved.conf")" "$(xnat save)" "save after the restore"
xnat save | xnat restore -
assert_eq "$flows" "$(mapping_field "$SPID" flows)" "flows counter after two restores"
exchange lan udp after-restore
assert_eq $((flows + 1)) "$(mapping_field "$SPID" flows)" "flows counter after one more flow"

log "a bad line changes nothing and is named"
now=$(xnat -j show)
cat >"$XNAT_TMP/bad.conf" <<CONF
# two good lines, then one the grammar refuses
map spid=$SPID to $MAPPED
map spid=17 to 10.9.0.17
map spid=25 to not-an-address
CONF
out=$(xnat restore "$XNAT_TMP/bad.conf" 2>&1) && fail "a file with a bad line was restored: $out"
assert_contains "$out" "bad.conf:4:" "the grammar's error names line 4"
assert_eq "$now" "$(xnat -j show)" "the set after the refused file"
cat >"$XNAT_TMP/refused.conf" <<CONF
map spid=17 to 10.9.0.17

map spid=$SPID to 10.99.0.1   # outside the policy's source selector
CONF
out=$(xnat restore "$XNAT_TMP/refused.conf" 2>&1) && fail "a file the kernel refuses was restored: $out"
assert_contains "$out" "refused.conf:3:" "the kernel's refusal names line 3"
assert_contains "$out" "policy $SPID selects src $MAPPED/32, not 10.99.0.1" "the kernel's reason"
assert_eq "$now" "$(xnat -j show)" "the set after the refused restore"

log "-f applies a file of commands at once"
cat >"$XNAT_TMP/cmds" <<CONF
unmap spid=9
map spid=17 to 10.9.0.17 pending drop
map spid=$SPID to $MAPPED replace
CONF
xnat -f "$XNAT_TMP/cmds"
assert_eq "17 $SPID" "$(xnat -j show | python3 -c 'import json, sys; print(*sorted(m["spid"] for m in json.load(sys.stdin)))')" "spids after -f"
assert_eq eagain "$(mapping_field "$SPID" pending)" "pending mode of $SPID after -f"

log "the documented limit: 65536 mappings in one request"
python3 -c '
for k in range(65536):
    print(f"map spid={8 * (k + 100000) + 1} to 10.{k >> 8 & 255}.{k & 255}.1")' >"$XNAT_TMP/max.conf"
t0=$EPOCHREALTIME
xnat restore "$XNAT_TMP/max.conf"
t1=$EPOCHREALTIME
log "restored 65536 mappings in $(fcalc "$t1 - $t0") s"
assert_eq 65536 "$(count)" "mappings after restoring 65536"
out=$(xnat map spid=524289 to 10.1.2.3 2>&1) && fail "mapping number 65537 was accepted: $out"
assert_contains "$out" "namespace at its limit of 65536 mappings" "refusal of mapping 65537"
echo "map spid=524289 to 10.1.2.3" >>"$XNAT_TMP/max.conf"
out=$(xnat restore "$XNAT_TMP/max.conf" 2>&1) && fail "a set of 65537 was restored: $out"
assert_contains "$out" "limit of 65536 mappings" "refusal of a set of 65537"
assert_eq 65536 "$(count)" "mappings after the refused restore"
t0=$EPOCHREALTIME
xnat flush
log "flushed 65536 mappings in $(fcalc "$EPOCHREALTIME - $t0") s"
assert_eq 0 "$(count)" "mappings after flush"
