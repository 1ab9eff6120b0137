#!/usr/bin/env bash
# `xnatctl explain` against what the kernel then does with real packets,
# for the same flows, in the reference topology with two mappings: the
# howto's (spid $SPID to $MAPPED) and one with a remote alias whose reqid
# has no policy (inactive).
#   - NAT: explain names the mapping, the address, the policy and the SA's
#     SPI; the office host then sees that address, and the SA counts the
#     packets.  The other mapping takes only flows to its alias.
#   - A flow no mapping takes: untouched; it leaves the home box as it was
#     sent, in the clear, where no policy wants it.
#   - The SA missing: pending, mode eagain; explain sends no ACQUIRE (and
#     makes no larval state), the real send gets EAGAIN and does.
#   - A flow to the inactive mapping's alias: a fail-closed drop, with the
#     remote address it stands for; the real flow gets no answer, its
#     mapping's fail-closed-drops rises, nothing of it is on the wire.
# families: 4 6
# timeout: 300
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../howto.sh"

require_root
require_cmd ip python3 tcpdump
require_module
require_ctl

FAMILY=$(test_family)
howto_setup "$FAMILY"
load_module

case $FAMILY in
4) ALIAS_NET=10.98.0.0/24 ALIAS_HOST=10.98.0.1 REAL_NET=10.0.0.0/24 ALIAS_TO=10.21.0.1 ;;
6) ALIAS_NET=fd98::/64 ALIAS_HOST=fd98::1 REAL_NET=fd00:10::/64 ALIAS_TO=fd00:21::1 ;;
esac

xnat map "spid=$SPID" to "$MAPPED"
xnat map reqid=77 to "$ALIAS_TO" remote "$ALIAS_NET" is "$REAL_NET"
assert_eq inactive "$(key_field reqid=77 state)" "the alias mapping, whose reqid has no policy"

# explain_field FIELD WORDS...: a field of `xnatctl -j explain WORDS`: a
# top-level one, `mapping` as KEY=N, `spis` comma-separated, or
# `why:KEY=N` for the reason code of that mapping's candidate.
explain_field() {
	local field=$1
	shift
	xnat -j explain "$@" | python3 -c '
import json, sys
e = json.load(sys.stdin)
f = sys.argv[1]
def key(m):
    return next(f"{k}={m[k]}" for k in ("spid", "reqid") if k in m)
if f == "mapping":
    print(key(e["mapping"]) if "mapping" in e else "")
elif f == "spis":
    print(",".join(hex(s) for s in e.get("spis", [])))
elif f.startswith("why:"):
    print(next((c["why"] for c in e["candidates"] if key(c) == f[4:]), ""))
else:
    print(e.get(f, ""))' "$field"
}

phase "NAT: explain's mapping, address, policy and SA, then the packets"
flow=(from "$LAN_HOST" to "$OFFICE_HOST" udp dport 5001)
xnat explain "${flow[@]}"
assert_eq nat "$(explain_field outcome "${flow[@]}")" "outcome"
assert_eq "spid=$SPID" "$(explain_field mapping "${flow[@]}")" "mapping"
assert_eq "$MAPPED" "$(explain_field addr "${flow[@]}")" "translated address"
assert_eq "$SPID" "$(explain_field policy "${flow[@]}")" "policy"
assert_eq 0x1000 "$(explain_field spis "${flow[@]}")" "SA"
assert_eq chosen "$(explain_field "why:spid=$SPID" "${flow[@]}")" "the mapping's candidate"
assert_eq alias-only "$(explain_field why:reqid=77 "${flow[@]}")" "the alias mapping's candidate"
sa_before=$(sa_packets home "$HOME_WAN" "$GW_WAN" 0x1000)
exchange lan udp explained-nat
assert_eq "$MAPPED" "$(office_sources)" "source the office host saw"
assert_ge $((sa_before + 1)) "$(sa_packets home "$HOME_WAN" "$GW_WAN" 0x1000)" "packets through SA 0x1000"

phase "untouched: a flow no mapping takes leaves as it was sent"
flow=(from "$LAN_HOST" to "$OTHER_HOST" udp dport 5001)
xnat explain "${flow[@]}"
assert_eq untouched "$(explain_field outcome "${flow[@]}")" "outcome"
assert_eq "" "$(explain_field mapping "${flow[@]}")" "mapping"
capture_start router r-home untouched
run_in lan $PEER udp-send "$OTHER_HOST" 5001 untouched --timeout 1 >/dev/null 2>&1 || true
capture_stop untouched
assert_ge 1 "$(capture_count untouched "udp and src host $LAN_HOST and dst host $OTHER_HOST")" \
	"packets of the flow on the WAN, untranslated"
assert_eq 0 "$(capture_count untouched "src host $MAPPED")" "packets from the mapped address"

phase "pending: explain says eagain and sends no ACQUIRE; the real send gets EAGAIN"
sa_del
run_in home ip xfrm monitor acquire >"$XNAT_TMP/acquire.log" 2>&1 &
monitor=$!
on_exit "kill $monitor"
sleep 0.5
flow=(from "$HOME_WAN" to "$OFFICE_HOST" udp dport 5001)
xnat explain "${flow[@]}"
assert_eq pending "$(explain_field outcome "${flow[@]}")" "outcome"
assert_eq eagain "$(explain_field pending "${flow[@]}")" "pending mode"
assert_eq "$MAPPED" "$(explain_field addr "${flow[@]}")" "translated address"
sleep 1
assert_eq "" "$(cat "$XNAT_TMP/acquire.log")" "ACQUIREs after explain"
assert_eq 0 "$(run_in home ip xfrm state | grep -c "^src $HOME_WAN dst $GW_WAN" || true)" "SAs and larval states home -> office after explain"
refused=$(mapping_field "$SPID" pending_refused)
out=$(run_in home $PEER udp-send "$OFFICE_HOST" 5001 pending --timeout 2 2>&1) &&
	fail "UDP send succeeded while the SA is missing: $out"
assert_contains "$out" "errno EAGAIN" "UDP sendto while the SA is pending"
assert_eq $((refused + 1)) "$(mapping_field "$SPID" pending_refused)" "pending-refused"
wait_for 10 "the real send's ACQUIRE" grep -q acquire "$XNAT_TMP/acquire.log"
sa_add

phase "fail-closed: a flow to the inactive mapping's alias is dropped, nothing on the wire"
flow=(from "$LAN_HOST" to "$ALIAS_HOST" udp dport 5001)
xnat explain "${flow[@]}"
assert_eq fail-closed-drop "$(explain_field outcome "${flow[@]}")" "outcome"
assert_eq "$OFFICE_HOST" "$(explain_field remote_dst "${flow[@]}")" "the remote address of the alias"
assert_eq inactive "$(explain_field why:reqid=77 "${flow[@]}")" "the alias mapping's candidate"
assert_eq other-alias "$(explain_field "why:spid=$SPID" "${flow[@]}")" "the other mapping's candidate"
drops=$(key_field reqid=77 fail_closed_drops)
lines=$(wc -l <"$XNAT_TMP/office.log")
capture_start router r-home failclosed
run_in lan $PEER udp-send "$ALIAS_HOST" 5001 failclosed --timeout 1 >/dev/null 2>&1 &&
	fail "a flow to the inactive mapping's alias got an answer"
capture_stop failclosed
assert_ge $((drops + 1)) "$(key_field reqid=77 fail_closed_drops)" "fail-closed drops of reqid 77"
assert_eq 0 "$(capture_count failclosed "host $OFFICE_HOST or host $ALIAS_HOST or host $LAN_HOST")" \
	"packets of the flow on the WAN"
assert_eq "$lines" "$(wc -l <"$XNAT_TMP/office.log")" "exchanges the office host logged"
