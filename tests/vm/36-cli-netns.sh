#!/usr/bin/env bash
# xnatctl's options as ip has them: -n NETNS works in the namespace that
# `ip netns add NETNS` made (and there only; a missing one is named),
# -j -p prints the same JSON indented, -t stamps monitor's lines and JSON
# objects, and `completion SHELL` needs neither a namespace nor privileges.
# timeout: 300
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

require_root
require_cmd ip python3 setpriv
require_module
require_ctl

netns_create lab
load_module
tmpdir
nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all "$XNAT_CTL" "$@"; }
# spids of a -j show, sorted.
spids() { python3 -c 'import json, sys; print(*sorted(m["spid"] for m in json.load(sys.stdin)))'; }

log "-n: the mapping is made in the named namespace, not in this one"
"$XNAT_CTL" -n lab map spid=305 to 10.20.30.2
assert_eq 305 "$(run_in lab "$XNAT_CTL" -j show | spids)" "spids seen inside lab"
assert_eq "[]" "$("$XNAT_CTL" -j show)" "mappings of the initial namespace"
# The option among the words, and the other commands.
"$XNAT_CTL" map spid=313 to 2001:db8::2 pending hold --netns lab
assert_eq "305 313" "$("$XNAT_CTL" -j show --netns=lab | spids)" "spids after a second -n map"
assert_contains "$("$XNAT_CTL" -n lab show spid 313)" "hold(100p/256KiB)" "show spid with -n"
"$XNAT_CTL" -n lab save >"$XNAT_TMP/lab.conf"
"$XNAT_CTL" -n lab unmap spid=313
printf 'unmap spid=305\nmap spid=9 to 10.9.0.9\n' | "$XNAT_CTL" -n lab -f -
assert_eq 9 "$(run_in lab "$XNAT_CTL" -j show | spids)" "spids after -n -f"
"$XNAT_CTL" -n lab restore "$XNAT_TMP/lab.conf"
assert_eq "$(cat "$XNAT_TMP/lab.conf")" "$(run_in lab "$XNAT_CTL" save)" "lab's set after -n restore"
assert_eq "[]" "$("$XNAT_CTL" -j show)" "mappings of the initial namespace at the end"
# The interface names of -n show are the namespace's: a policy on an
# interface that only lab has.
ip -n lab link add xnatdummy0 type dummy
run_in lab ip xfrm policy add src 10.20.30.2/32 dst 10.0.0.0/8 dev xnatdummy0 dir out index 305 \
	tmpl src 200.2.2.2 dst 100.1.1.1 proto esp mode tunnel
# The selector and the counters come with -s, as with ip -s.
assert_not_contains "$("$XNAT_CTL" -n lab show spid 305)" "xnatdummy0" "no selector without -s"
assert_contains "$("$XNAT_CTL" -n lab show spid 305 -s)" \
	"selector 10.20.30.2/32 -> 10.0.0.0/8 proto any dev xnatdummy0" "interface name of lab's policy"
assert_contains "$("$XNAT_CTL" -n lab -s show spid 305)" "flows 0 declined 0 fail-closed-drops 0" "counters with -s"

log "-n of a namespace that does not exist, or that cannot be entered"
rc=0
out=$("$XNAT_CTL" -n nosuch show 2>&1) || rc=$?
assert_eq 1 "$rc" "exit status of -n nosuch"
assert_eq "xnatctl: netns nosuch: No such file or directory (/run/netns/nosuch; 'ip netns list' lists the names)" \
	"$out" "message of -n nosuch"
rc=0
out=$("$XNAT_CTL" -n ../lab show 2>&1) || rc=$?
assert_eq 2 "$rc" "exit status of -n ../lab"
assert_contains "$out" "'../lab' is not a network namespace name" "message of -n ../lab"
rc=0
out=$(nobody -n lab show 2>&1) || rc=$?
assert_eq 1 "$rc" "exit status of -n as nobody"
assert_contains "$out" "netns lab: cannot enter it: Operation not permitted (needs CAP_SYS_ADMIN)" "-n as nobody"

log "-j -p: the same JSON, indented"
compact=$("$XNAT_CTL" -n lab -j show)
pretty=$("$XNAT_CTL" -n lab -j -p show)
assert_ne 1 "$(wc -l <<<"$pretty")" "lines of -j -p"
assert_contains "$pretty" '    "spid": ' "indented keys"
python3 -c 'import json, sys; a, b = (json.loads(x) for x in sys.argv[1:]); sys.exit(a != b)' "$compact" "$pretty" ||
	fail "-j and -j -p differ: $compact / $pretty"
assert_eq "$compact" "$("$XNAT_CTL" -n lab -p -j show | python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin), separators=(",", ":")))')" \
	"-p -j show, compacted"
# -p alone changes nothing.
assert_eq "$("$XNAT_CTL" -n lab show)" "$("$XNAT_CTL" -n lab -p show)" "show -p without -j"

log "-t: monitor's lines and objects start with the time"
"$XNAT_CTL" -n lab -t monitor >"$XNAT_TMP/monitor.txt" 2>&1 &
on_exit "kill $!"
poke() { "$XNAT_CTL" -n lab map spid=17 to 192.0.2.17 replace && grep -q "map spid 17 " "$XNAT_TMP/monitor.txt"; }
wait_for 60 "the timestamped monitor to see events" poke
stamp='^\[[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}\] '
assert_match "$(cat "$XNAT_TMP/monitor.txt")" "${stamp}map spid 17 to 192\.0\.2\.17 inactive pending eagain reason \"no out policy with index 17\"$" "a timestamped line"
grep -Ev "$stamp" "$XNAT_TMP/monitor.txt" && fail "a monitor -t line without a time"

"$XNAT_CTL" -n lab -t -j monitor count 1 >"$XNAT_TMP/monitor.json" 2>&1 &
mon=$!
jpoke() { "$XNAT_CTL" -n lab unmap spid=17 || true; "$XNAT_CTL" -n lab map spid=17 to 192.0.2.17; ! kill -0 "$mon" 2>/dev/null; }
wait_for 60 "the JSON monitor to end after one event" jpoke
wait "$mon" || fail "monitor -t -j count 1 failed: $(cat "$XNAT_TMP/monitor.json")"
python3 - "$XNAT_TMP/monitor.json" <<'PY' || fail "monitor -t -j: $(cat "$XNAT_TMP/monitor.json")"
import datetime, json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, lines
ev = json.loads(lines[0])
assert list(ev)[:2] == ["timestamp", "event"], ev
t = datetime.datetime.fromisoformat(ev["timestamp"])
assert t.tzinfo is not None, ev["timestamp"]
age = (datetime.datetime.now(datetime.timezone.utc) - t).total_seconds()
assert -5 < age < 120, age
assert ev["event"] in ("map", "unmap") and (ev.get("spid") or ev["mapping"]["spid"]) == 17, ev
PY
# Without -t nothing changes: the JSON of test 22.
run_in lab "$XNAT_CTL" -j monitor count 1 >"$XNAT_TMP/plain.json" 2>&1 &
mon=$!
wait_for 60 "the plain JSON monitor to end after one event" jpoke
wait "$mon" || fail "monitor -j count 1 failed: $(cat "$XNAT_TMP/plain.json")"
assert_not_contains "$(cat "$XNAT_TMP/plain.json")" "timestamp" "monitor -j without -t"
assert_match "$(cat "$XNAT_TMP/plain.json")" '^\{"event":"(map|unmap)",' "monitor -j without -t"

log "completion: a script for each shell, as nobody, whatever -n says"
for shell in bash zsh fish; do
	out=$(nobody -n nosuch completion "$shell") || fail "completion $shell as nobody failed"
	assert_contains "$out" "restore" "the $shell script"
	assert_contains "$out" "netns" "the $shell script"
done
out=$(nobody completion bash)
bash -n <<<"$out" || fail "the bash script does not parse"
