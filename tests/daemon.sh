# shellcheck shell=bash
# `xnatctl daemon` against strongSwan's charon (tests/vm/72-daemon-*.sh):
# the IPv4 reference topology with charon on the home box and on the office
# gateway, the connections written by each test with no reqid pinned, and
# the daemon's config in a directory of the test's own (--config-dir).
# Sources the helpers it builds on: lib.sh, howto.sh, strongswan.sh, ike.sh.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/howto.sh"
. "$(dirname "${BASH_SOURCE[0]}")/strongswan.sh"
. "$(dirname "${BASH_SOURCE[0]}")/ike.sh"

# daemon_require: what every test of the daemon needs.
daemon_require() {
	require_root
	require_cmd ip python3 unshare tcpdump ping swanctl
	[ -x /usr/lib/ipsec/charon ] || fail "/usr/lib/ipsec/charon missing (Debian package strongswan-charon, installed by make deps)"
	require_module
	require_ctl
}

# daemon_topology: the IPv4 reference topology without SAs or policies, and
# a second network behind the office gateway, $OTHER_NET with the host
# $OTHER_HOST (a second connection's far end); UDP and TCP servers on both
# far hosts (logs office.log and other.log).
daemon_topology() {
	howto_net 4
	netns_create other
	veth_pair gw lan1 "$OTHER_GW/16" other eth0 "$OTHER_HOST/16"
	run_in other ip route add default via "$OTHER_GW"
	howto_servers
	howto_servers other
}

# ss_child NAME LOCAL_TS REMOTE_TS START_ACTION: a child of swanctl.conf,
# no reqid (charon allocates one).
ss_child() {
	printf '%s {\n\tlocal_ts = %s\n\tremote_ts = %s\n\tesp_proposals = aes128gcm16\n\tstart_action = %s\n\tmode = tunnel\n}\n' "$@"
}

# ss_conn SIDE CONN ID PEER_ID CHILDREN [LINE...]: a connection of
# swanctl.conf from SIDE (home or gw) to the other gateway, authenticated by
# the pre-shared key as ID, its peer as PEER_ID (the responder picks the
# connection by it); CHILDREN, ss_child blocks; LINEs, more settings of the
# connection (vips, pools).
ss_conn() {
	local side=$1 conn=$2 id=$3 peer=$4 children=$5 here=$HOME_WAN there=$GW_WAN
	shift 5
	[ "$side" = home ] || here=$GW_WAN there=$HOME_WAN
	printf '%s {\n\tversion = 2\n\tlocal_addrs = %s\n\tremote_addrs = %s\n' "$conn" "$here" "$there"
	printf '\tproposals = aes128-sha256-modp2048\n'
	printf '\tlocal { auth = psk\n\t\tid = %s }\n\tremote { auth = psk\n\t\tid = %s }\n' "$id" "$peer"
	[ $# = 0 ] || printf '\t%s\n' "$@"
	printf '\tchildren {\n%s\n\t}\n}\n' "$children"
}

# swanctl_write NAME CONNECTIONS [POOLS]: $XNAT_TMP/NAME/swanctl.conf, for
# charon_launch NS NAME.
swanctl_write() {
	mkdir -p "$XNAT_TMP/$1"
	printf 'connections {\n%s\n}\npools {\n%s\n}\nsecrets { ike-1 { secret = xfrm-nat-test-secret } }\n' \
		"$2" "${3:-}" >"$XNAT_TMP/$1/swanctl.conf"
}

# policy_reqid SRC: the template reqid of the home box's out policy from
# SRC, empty if there is none.
policy_reqid() {
	run_in home ip xfrm policy list dir out |
		awk -v src="$1" '$1 == "src" && $2 == src {found = 1} found && /reqid/ {for (i = 1; i < NF; i++) if ($i == "reqid") {print $(i + 1); exit}}'
}

has_policy() { [ -n "$(policy_reqid "$1")" ]; }
no_policy() { [ -z "$(policy_reqid "$1")" ]; }

# charon_sa_reqid CONN CHILD: the reqid of the installed CHILD_SA CHILD of
# the IKE_SA CONN as `swanctl --list-sas` on the home box reports it.
charon_sa_reqid() {
	swanctl_home --list-sas --ike "$1" 2>/dev/null |
		awk -v name="$2:" '$1 == name && /INSTALLED/ {for (i = 1; i < NF; i++) if ($i == "reqid") {sub(",", "", $(i + 1)); print $(i + 1); exit}}'
}

# home_out_spis REQID: the SPIs of the SAs home -> office gateway of REQID.
home_out_spis() {
	run_in home ip xfrm state list src "$HOME_WAN" dst "$GW_WAN" |
		awk -v r="$1" '$1 == "proto" && $2 == "esp" && $5 == "reqid" && $6 == r {print $4}' | sort
}
home_out_spi_is() { [ "$(home_out_spis "$1")" = "$2" ]; }
# home_out_spi_new REQID OLD: one SA of REQID, not OLD.
home_out_spi_new() {
	local s
	s=$(home_out_spis "$1")
	[ -n "$s" ] && [ "$s" = "${s%%$'\n'*}" ] && [ "$s" != "$2" ]
}

# ---------------------------------------------------------------- the daemon

XNAT_D=
daemon_pid=

# daemon_config LINE...: the daemon's whole config, one file in its
# directory.
daemon_config() {
	XNAT_D=$XNAT_TMP/xfrm-nat.d
	mkdir -p "$XNAT_D"
	printf '%s\n' "$@" >"$XNAT_D/test.conf"
}

# daemon_start: `xnatctl daemon` in the home box's namespace, against its
# charon; what it logs is appended to $XNAT_TMP/daemon.log.
daemon_start() {
	[ -n "$XNAT_D" ] || fail "daemon_start: no daemon_config"
	touch "$XNAT_TMP/daemon.log"
	daemon_log_mark
	ip netns exec home "$XNAT_CTL" daemon --config-dir "$XNAT_D" --vici "$XNAT_TMP/home/charon.vici" \
		>>"$XNAT_TMP/daemon.log" 2>&1 &
	daemon_pid=$!
	on_exit "kill $daemon_pid"
	log "xnatctl daemon started (pid $daemon_pid)"
}

# daemon_stop: SIGTERM, as systemd stops it; it must exit.
daemon_stop() {
	daemon_alive
	kill -TERM "$daemon_pid"
	wait_for 10 "the daemon to exit" eval "! kill -0 $daemon_pid"
	wait "$daemon_pid" 2>/dev/null || true
	daemon_pid=
}

# daemon_reload: SIGHUP, the daemon reads its config again.
daemon_reload() {
	daemon_alive
	kill -HUP "$daemon_pid"
}

daemon_alive() {
	kill -0 "$daemon_pid" 2>/dev/null || fail "the daemon exited; its log: $(cat "$XNAT_TMP/daemon.log")"
}

# daemon_said BEGIN END: the daemon's log, from line daemon_log_from on
# (daemon_start and daemon_log_mark set it), has a line that begins with
# BEGIN and ends with END (`home/net: reqid 3, to 10.3.0.1` `: mapped`).
daemon_log_from=1
daemon_said() {
	tail -n +"$daemon_log_from" "$XNAT_TMP/daemon.log" |
		awk -v b="$1" -v e="$2" 'index($0, b) == 1 && substr($0, length($0) - length(e) + 1) == e {found = 1}
			END {exit !found}'
}
# daemon_log_mark: daemon_said looks only at what the daemon logs from now.
daemon_log_mark() { daemon_log_from=$(($(wc -l <"$XNAT_TMP/daemon.log") + 1)); }
# daemon_log_rewind: daemon_said looks at the whole log again.
daemon_log_rewind() { daemon_log_from=1; }
# daemon_log_since_mark: what the daemon logged since daemon_log_mark.
daemon_log_since_mark() { tail -n +"$daemon_log_from" "$XNAT_TMP/daemon.log"; }

# named_fields NAME FIELD...: as key_fields, of the mapping named NAME
# (`xnatctl -j show`'s "name"); nothing if no mapping has the name, a
# failure if several have.
named_fields() {
	local name=$1
	shift
	xnat -j show | python3 -c '
import json, sys
ms = [m for m in json.load(sys.stdin) if m.get("name") == sys.argv[1]]
if len(ms) > 1:
    sys.exit("%d mappings named %s" % (len(ms), sys.argv[1]))
out = []
for m in ms:
    for f in sys.argv[2:]:
        v = m["stats"][f] if f in m["stats"] else m[f]
        out.append(",".join(map(str, v)) if isinstance(v, list) else str(v))
print(" ".join(out))' "$name" "$@"
}
named_field_is() { [ "$(named_fields "$1" "$2")" = "$3" ]; }
named_fields_are() {
	local want=$1 name=$2
	shift 2
	[ "$(named_fields "$name" "$@")" = "$want" ]
}

# named_bound NAME ADDR SRC: the mapping NAME is active, to ADDR, keyed by
# the reqid of the home box's out policy from SRC, and binds that policy
# (a wait_for condition).
named_bound() {
	local reqid idx
	reqid=$(policy_reqid "$3")
	idx=$(trap_index "$3")
	[ -n "$reqid" ] && [ -n "$idx" ] && named_fields_are "active $reqid $2 $idx" "$1" state reqid addr policies
}

# assert_named_bound NAME ADDR SRC: named_bound, within 30 s, with the
# mapping's state shown if not.
assert_named_bound() {
	daemon_alive
	holds_within 30 named_bound "$@" ||
		fail "mapping $1 not bound to $2 by the reqid of the policy from $3 (reqid '$(policy_reqid "$3")', index '$(trap_index "$3")'): $(xnat show 2>&1)
the daemon's log: $(cat "$XNAT_TMP/daemon.log")"
}

# holds_within SECONDS CMD...: whether CMD succeeds within SECONDS (polled
# as wait_for does), without failing the test: wait_for with a diagnosis
# of one's own.
holds_within() {
	local end=$((SECONDS + $1 * ${XNAT_TIME_SCALE:-1}))
	shift
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.1
	done
}

# first_datagram NS HOST TAG: a datagram to HOST while its CHILD_SA is not
# up (held by the mapping's hold mode while charon negotiates), then a UDP
# and a TCP exchange.
first_datagram() {
	local out
	out=$(run_in "$1" $PEER udp-send "$2" 5001 "$3" --timeout 60 2>&1) ||
		fail "the first datagram to $2 got no reply: $out"
	assert_contains "$out" "ok $3" "the reply to the first datagram to $2"
	exchange "$1" udp "$3-udp" "$2"
	exchange "$1" tcp "$3-tcp" "$2"
}

# sources_of LOG TAG: the sources that the far host of LOG (office, other)
# saw for the exchanges tagged TAG*.
sources_of() { awk -v t="$2" 'index($3, t) == 1 {print $2}' "$XNAT_TMP/$1.log" | sort -u; }

# assert_wan_clean CAPTURE INNER: no packet of the inner addresses INNER (a
# pcap filter) on the WAN capture, nothing but IKE and ESP, and some ESP.
assert_wan_clean() {
	local plain others
	plain=$(capture_count "$1" "$2")
	[ "$plain" = 0 ] || fail "$plain plaintext packet(s) on the WAN: $(capture_show "$1" "$2" | head -n 20)"
	others=$(capture_count "$1" "not ($IKE_WAN_TRAFFIC)")
	[ "$others" = 0 ] || fail "$others packet(s) on the WAN other than ESP and IKE: $(capture_show "$1" "not ($IKE_WAN_TRAFFIC)" | head -n 20)"
	assert_ge 4 "$(capture_count "$1" "esp and src host $HOME_WAN and dst host $GW_WAN")" "ESP packets to the office gateway"
}
