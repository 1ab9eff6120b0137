# shellcheck shell=bash
# Helpers of the stress sections (tests/stress/r*.sh), run by `make stress`
# (tests/stress/run.sh) in the test VM like the VM tests.  Source after
# ../lib.sh and ../howto.sh.
#
# STRESS_SECONDS (default 60): how long each section stresses; setup and
# checks come on top.  Taken from the environment, else from stress.env
# beside $XNAT_KO: make stress writes it there, as scripts/vm-run.sh passes
# only XNAT_KO and XNAT_CTL (and a few others) into the guest.
#
# A section prints its figures as "# figure: NAME VALUE" lines;
# tests/stress/run.sh collects them from the logs.

if [ -z "${STRESS_SECONDS:-}" ] && [ -r "$(dirname "$XNAT_KO")/stress.env" ]; then
	# shellcheck disable=SC1091
	. "$(dirname "$XNAT_KO")/stress.env"
fi
STRESS_SECONDS=${STRESS_SECONDS:-60}
[[ $STRESS_SECONDS =~ ^[1-9][0-9]*$ ]] || fail "STRESS_SECONDS must be a positive integer, got '$STRESS_SECONDS'"

# Sections run xnatctl as nobody too, and make stress keeps its copy under
# $XNAT_CACHE, which may lie in root's private home: then a copy nobody can
# run, in the guest's /tmp.
if [ -x "$XNAT_CTL" ] && ! setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$XNAT_CTL" 2>/dev/null; then
	tmpdir
	mkdir -m 755 "$XNAT_TMP/bin"
	chmod 755 "$XNAT_TMP"
	cp "$XNAT_CTL" "$XNAT_TMP/bin/xnatctl"
	chmod 755 "$XNAT_TMP/bin/xnatctl"
	XNAT_CTL=$XNAT_TMP/bin/xnatctl
fi

# Log lines carry the seconds since the section started: where the time
# goes, under TCG and ten times more on the debug kernel.
log() { printf '# [%4d s] %s\n' "$SECONDS" "$*"; }

# figure NAME VALUE
figure() { printf '# figure: %s %s\n' "$1" "$2"; }

# slowness: 10 on the debug kernel (KASAN, lockdep, kmemleak under TCG), else 1.
slowness() { if [ -e /sys/kernel/debug/kmemleak ]; then echo 10; else echo 1; fi; }

# stress_budget RESERVE: fail at once unless STRESS_SECONDS leaves RESERVE
# seconds of the section's timeout (its "# timeout:" line) for setup and
# checks; RESERVE is for the base kernel, ten times that on the debug one.
stress_budget() {
	local t reserve
	t=$(test_timeout "$0" 120)
	reserve=$(($1 * $(slowness)))
	[ $((STRESS_SECONDS + reserve)) -le "$t" ] ||
		fail "STRESS_SECONDS=$STRESS_SECONDS does not fit this section's timeout of $t s, which needs about $reserve s for setup and checks on this kernel: at most $((t - reserve))"
	log "stressing for $STRESS_SECONDS s (timeout $t s, kernel $(uname -r)$([ "$(slowness)" = 1 ] || echo ', debug'))"
}

# stress_deadline: "now + STRESS_SECONDS" in bash's $SECONDS.
stress_deadline() { echo $((SECONDS + STRESS_SECONDS)); }

# guard_unmapped NET...: in the home box, drop (and count) packets to NET
# that leave through the WAN in plaintext and that no NAT touched: flows that
# no mapping translates (while there is none, or its policy is absent), which
# a home box would block too.  The module answers only for flows it bound
# (they carry a source NAT binding, which this rule lets pass), so that a
# capture on the WAN may show no plaintext at all with the office host.
guard_unmapped() {
	local nets
	nets=$(IFS=,; echo "$*")
	run_in home nft -f - <<EOF
table inet stress_guard {
	chain post {
		type filter hook postrouting priority 200; policy accept;
		oifname "wan0" ip daddr { $nets } ct status & snat == 0 counter drop
	}
}
EOF
}

# guard_drops: packets the guard dropped so far.
guard_drops() {
	run_in home nft list table inet stress_guard | sed -n 's/.*counter packets \([0-9]*\) .*/\1/p' | head -n1
}

# map_desc NS: the namespace's mappings as "SPID ADDR STATE PENDING" lines,
# sorted by spid (one xnatctl call).
map_desc() {
	run_in "$1" "$XNAT_CTL" -j show | python3 -c '
import json, sys
for m in sorted(json.load(sys.stdin), key=lambda m: m["spid"]):
    print(m["spid"], m["addr"], m["state"], m["pending"])'
}

# median_max FILE: "median max" of the numbers in FILE (one a line), "- -"
# if none.
median_max() {
	sort -g "$1" | awk '{ v[NR] = $1 } END { if (NR) printf "%.3f %.3f\n", v[int((NR + 1) / 2)], v[NR]; else print "- -" }'
}

# stat_of NS SPID FIELD: one number of the mapping's JSON (a stats counter,
# hold_packets...), without a python start per call.
stat_of() {
	run_in "$1" "$XNAT_CTL" -j show "spid=$2" | sed -n "s/.*\"$3\":\([0-9]*\).*/\1/p"
}
