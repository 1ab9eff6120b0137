#!/usr/bin/env bash
# Stress 1: the netlink interface fuzzed (tests/tools/genl_fuzz.py) for
# STRESS_SECONDS (and at least 500 messages): random and mutated requests
# of every operation, malformed attributes and headers, random flags, with
# subscribe/unsubscribe churn of the events group; as root in the home box
# of the reference topology (its real policy index and address among the
# values, traffic running) and, at the same time, as an unprivileged user
# in another namespace, whose mappings must not change.  Afterwards the
# module still works: a real mapping carries traffic into the tunnel, and
# xnatctl shows it.  (The runner fails the section on any kernel report,
# and on kmemleak on the debug kernel.)
# timeout: 900
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../howto.sh"
. "$(dirname "$0")/stress.sh"

require_root
require_cmd ip python3 ping setpriv
require_module
require_ctl
stress_budget 40

howto_setup 4
load_module
netns_create fuzzu
ctl() { run_in "$1" "$XNAT_CTL" "${@:2}"; }
ctl fuzzu map spid=305 to 10.20.30.2
ctl fuzzu map spid=313 to fd00:20::2 pending hold hold-packets 7
before=$(ctl fuzzu -j show)

log "traffic from the LAN while the fuzzers run"
run_in lan ping -q -i 0.1 -w $((STRESS_SECONDS + 30)) "$OFFICE_HOST" >/dev/null 2>&1 &
on_exit "kill $! 2>/dev/null"

log "fuzzing for $STRESS_SECONDS s: root in 'home', nobody in 'fuzzu'"
fuzz=$REPO/tests/tools/genl_fuzz.py
run_in home python3 "$fuzz" "$STRESS_SECONDS" --spid "$SPID" --spid 313 --addr "$MAPPED" --addr "$MAPPED2" --min 500 \
	>"$XNAT_TMP/root.out" 2>&1 &
root=$!
run_in fuzzu setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all \
	python3 "$fuzz" "$STRESS_SECONDS" --spid 305 --spid 313 --addr 10.20.30.2 --min 500 \
	>"$XNAT_TMP/nobody.out" 2>&1 &
nobody=$!
rc_root=0 rc_nobody=0
wait "$root" || rc_root=$?
wait "$nobody" || rc_nobody=$?
sed 's/^/# root: /' "$XNAT_TMP/root.out"
sed 's/^/# nobody: /' "$XNAT_TMP/nobody.out"
[ "$rc_root" = 0 ] || fail "the root fuzzer exited $rc_root"
[ "$rc_nobody" = 0 ] || fail "the unprivileged fuzzer exited $rc_nobody"

# val FILE KEY: the number after KEY in the fuzzer's output (0 if absent).
val() { awk -v k="$2" 'index($0, k " ") == 1 { v = substr($0, length(k) + 2); split(v, a, " "); print a[1]; f = 1 } END { if (!f) print 0 }' "$1"; }
# mval FILE KEY: the number after the word KEY on the fuzzer's "mcast" lines.
mval() { awk -v k="$2" '$1 == "mcast" { for (i = 2; i < NF; i++) if ($i == k) print $(i + 1) }' "$1"; }

r=$XNAT_TMP/root.out u=$XNAT_TMP/nobody.out
sent_r=$(val "$r" sent) sent_u=$(val "$u" sent)
assert_ge 500 "$sent_r" "messages the root fuzzer sent"
assert_ge 500 "$sent_u" "messages the unprivileged fuzzer sent"
# The family answered all along, and its answers are those of a family
# that parses and validates: acks and data, EINVAL for malformed requests,
# EOPNOTSUPP for unknown commands; root's writes went through.
assert_ge 1 "$(val "$r" "reply ack")" "acks to the root fuzzer"
assert_ge 1 "$(val "$r" "reply data")" "data replies to the root fuzzer"
assert_ge 1 "$(val "$r" "reply EINVAL")" "EINVAL replies to the root fuzzer"
assert_ge 1 "$(val "$r" "reply EOPNOTSUPP")" "EOPNOTSUPP replies to the root fuzzer"
assert_ge 1 "$(val "$r" write_ok)" "writes the root fuzzer made"
assert_ge 2 "$(val "$r" "health ok")" "health dumps of the root fuzzer"
assert_ge 2 "$(val "$u" "health ok")" "health dumps of the unprivileged fuzzer"
# Nobody cannot write: EPERM, never a write acknowledged, nothing changed.
assert_ge 1 "$(val "$u" "reply EPERM")" "EPERM replies to the unprivileged fuzzer"
assert_eq 0 "$(val "$u" write_ok)" "writes acknowledged to the unprivileged fuzzer"
assert_eq "$before" "$(ctl fuzzu -j show)" "mappings of 'fuzzu' after the unprivileged fuzzing"
assert_ge 1 "$(mval "$r" joins)" "events group joins (root)"
assert_ge 1 "$(mval "$u" joins)" "events group joins (nobody)"
# Root's changes were announced to its subscribers (read, or overflowing a
# tiny buffer); none reached those of the other namespace, where nothing
# changed.
assert_ge 1 $(($(mval "$r" notifications) + $(mval "$r" overruns))) "notifications (read or overflowed) of root's changes"
assert_eq "0 0" "$(mval "$u" notifications) $(mval "$u" overruns)" "notifications in 'fuzzu' (read, overflowed)"

errnos_r=$(grep -c '^reply E' "$r" || true)
figure fuzz_root_sent "$sent_r"
figure fuzz_root_msgs_per_s "$(fcalc "$sent_r / $(val "$r" seconds)")"
figure fuzz_root_acks "$(val "$r" "reply ack")"
figure fuzz_root_write_ok "$(val "$r" write_ok)"
figure fuzz_root_noreply "$(val "$r" noreply)"
figure fuzz_root_errnos "$errnos_r"
while read -r _ e n; do figure "fuzz_root_$e" "$n"; done < <(grep '^reply E' "$r")
figure fuzz_nobody_sent "$sent_u"
figure fuzz_nobody_eperm "$(val "$u" "reply EPERM")"
figure fuzz_nobody_write_ok "$(val "$u" write_ok)"
figure fuzz_mcast_joins $(($(mval "$r" joins) + $(mval "$u" joins)))
figure fuzz_mcast_notifications $(($(mval "$r" notifications) + $(mval "$u" notifications)))
figure fuzz_mcast_overruns $(($(mval "$r" overruns) + $(mval "$u" overruns)))

log "afterwards a real mapping carries traffic into the tunnel"
xnat flush
assert_eq "[]" "$(xnat -j show)" "mappings after flush"
xnat map "spid=$SPID" to "$MAPPED"
assert_eq active "$(mapping_field "$SPID" state)" "state of the mapping"
sa_before=$(sa_packets home "$HOME_WAN" "$GW_WAN" 0x1000)
: >"$XNAT_TMP/office.log"
ping_ok home "$OFFICE_HOST"
exchange home udp after-fuzz-udp
exchange home tcp after-fuzz-tcp
exchange lan udp after-fuzz-lan
assert_eq "$MAPPED" "$(office_sources)" "sources seen by the office after the fuzzing"
assert_ge $((sa_before + 4)) "$(sa_packets home "$HOME_WAN" "$GW_WAN" 0x1000)" "packets through the home->office SA"
out=$(xnat show)
assert_contains "$out" "$MAPPED" "xnatctl show"
out=$(run_in home setpriv --reuid=nobody --regid=nogroup --clear-groups "$XNAT_CTL" show)
assert_contains "$out" "$MAPPED" "xnatctl show as nobody"
printf '%s\n' "$out" | sed 's/^/# /'
