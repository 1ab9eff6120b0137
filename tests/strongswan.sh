# shellcheck shell=bash
# strongswan_scenario FAMILY [MODE]: the reference topology with strongSwan's
# charon on the home box (trap policy, start_action = trap) and on the office
# gateway instead of static SAs; the trap policy's index is mapped in MODE,
# eagain (the default) or hold.
# Source after lib.sh and howto.sh.

# ike_topology_flush: no static tunnel, an IKE daemon negotiates it.
ike_topology_flush() {
	local ns
	for ns in home gw; do
		run_in "$ns" ip xfrm state flush
		run_in "$ns" ip xfrm policy flush
	done
}

# charon_launch NS NAME: charon in NS with the connections of
# $XNAT_TMP/NAME/swanctl.conf, which the caller wrote; its other files in
# $XNAT_TMP/NAME (a second call with the same NAME starts it again on the
# same files: a daemon restart).  Its pid in charon_pid[NAME].
declare -gA charon_pid=()
charon_launch() {
	local ns=$1 name=$2 dir=$XNAT_TMP/$2
	[ -f "$dir/swanctl.conf" ] || fail "charon_launch: no $dir/swanctl.conf"
	rm -f "$dir/charon.vici"
	cat >"$dir/strongswan.conf" <<-EOF2
	charon {
		load_modular = yes
		install_routes = no
		retransmit_timeout = 1.0
		plugins {
			include /etc/strongswan.d/charon/*.conf
			vici { socket = unix://$dir/charon.vici }
			bypass-lan { load = no }
			updown { load = no }
			stroke { load = no }
		}
		filelog { log { path = $dir/charon.log
			default = 1
			ike = 2
			knl = 2 } }
	}
	EOF2
	# A private /run per daemon: charon's pid file is fixed at /run/charon.pid.
	# Not through run_in: $! is then charon itself (ip, unshare and sh exec).
	ip netns exec "$ns" unshare -m sh -c "mount -t tmpfs tmpfs /run && \
		STRONGSWAN_CONF=$dir/strongswan.conf exec /usr/lib/ipsec/charon" >>"$dir/stdout" 2>&1 &
	charon_pid[$name]=$!
	on_exit "kill $!"
	wait_for 60 "charon ($name) to listen on vici" test -S "$dir/charon.vici"
	swanctl --load-all --uri "unix://$dir/charon.vici" --file "$dir/swanctl.conf" >"$dir/load.log" 2>&1 ||
		fail "swanctl --load-all ($name): $(cat "$dir/load.log")"
}

# charon_start NS NAME LOCAL REMOTE LOCAL_TS REMOTE_TS START_ACTION [REQID]:
# charon_launch with one connection "tunnel" with one CHILD_SA "net", pinned
# to REQID when given (swanctl.conf's reqid; else charon allocates one).
charon_start() {
	local name=$2 dir=$XNAT_TMP/$2 reqid=${8:+reqid = $8}
	mkdir -p "$dir"
	cat >"$dir/swanctl.conf" <<-EOF2
	connections {
		tunnel {
			version = 2
			local_addrs = $3
			remote_addrs = $4
			proposals = aes128-sha256-modp2048
			local { auth = psk
				id = $name }
			remote { auth = psk }
			children {
				net {
					local_ts = $5
					remote_ts = $6
					esp_proposals = aes128gcm16
					start_action = $7
					mode = tunnel
					$reqid
				}
			}
		}
	}
	secrets { ike-1 { secret = xfrm-nat-test-secret } }
	EOF2
	charon_launch "$1" "$name"
}

# charon_stop NAME: stop charon as a service stop does (SIGTERM) and wait for
# it to exit.
charon_stop() {
	local pid=${charon_pid[$1]:-}
	[ -n "$pid" ] || fail "charon_stop: no charon named $1"
	kill -TERM "$pid" 2>/dev/null || true
	wait_for 30 "charon ($1) to exit" eval "! kill -0 $pid"
	wait "$pid" 2>/dev/null || true
	unset "charon_pid[$1]"
}

# swanctl_home ARGS...: swanctl against the home box's charon.
swanctl_home() { swanctl "$@" --uri "unix://$XNAT_TMP/home/charon.vici"; }

# trap_index [SRC]: the index of the home box's out policy from SRC (default
# $MAPPED/$HOSTLEN), empty if there is none.
trap_index() {
	run_in home ip -s xfrm policy list dir out |
		awk -v src="${1:-$MAPPED/$HOSTLEN}" '$1 == "src" && $2 == src {found = 1} found && /index/ {for (i = 1; i < NF; i++) if ($i == "index") {print $(i + 1); exit}}'
}

strongswan_scenario() {
	local mode=${2:-eagain}
	case $mode in eagain | hold) ;; *) fail "strongswan_scenario: mode eagain or hold" ;; esac
	howto_setup "$1"
	ike_topology_flush

	charon_start gw office "$GW_WAN" "$HOME_WAN" "$OFFICE_NET" "$MAPPED/$HOSTLEN" none
	charon_start home home "$HOME_WAN" "$GW_WAN" "$MAPPED/$HOSTLEN" "$OFFICE_NET" trap

	wait_for 30 "charon's trap policy on the home box" test -n "$(trap_index)"
	spid=$(trap_index)
	log "the trap policy's index is $spid"
	load_module
	if [ "$mode" = hold ]; then
		strongswan_hold
		return
	fi
	xnat map "spid=$spid" to "$MAPPED"

	log "first send: EAGAIN, and the negotiation starts"
	out=$(run_in home $PEER udp-send "$OFFICE_HOST" 5001 first --timeout 2 2>&1) &&
		fail "the first send succeeded before any SA existed: $out"
	assert_contains "$out" "errno EAGAIN" "first UDP send"
	start=$(date +%s.%N)
	sent() { run_in home $PEER udp-send "$OFFICE_HOST" 5001 after-ike --timeout 1 >/dev/null 2>&1; }
	wait_for 60 "a send to succeed once the CHILD_SA is up" sent
	log "the tunnel carried traffic $(python3 -c "print(round($(date +%s.%N) - $start, 2))") s after the first send"
	assert_contains "$(swanctl --list-sas --uri "unix://$XNAT_TMP/home/charon.vici" 2>&1)" "INSTALLED" "CHILD_SA on the home box"
	exchange lan tcp lan-after-ike
	assert_eq "$MAPPED" "$(office_sources)" "sources seen by the office host"
	assert_ge 1 "$(mapping_field "$spid" pending_refused)" "refused flows"
}

# The home box's SAs as `ip xfrm monitor SA` saw them come, each line after
# its time (peer.py stamp); returns once the monitor sees events.
xfrm_monitor_start() {
	# shellcheck disable=SC2086 # (not run_in: see monitor_start)
	ip netns exec home $PEER stamp "$1" ip xfrm monitor SA &
	on_exit "kill $!"
	touch "$1"
	wait_for 60 "ip xfrm monitor to see SAs" _xfrm_monitor_poke "$1"
}
_xfrm_monitor_poke() {
	run_in home ip xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x999 mode tunnel \
		aead "rfc4106(gcm(aes))" "$KEY_OUT" 128 &&
		run_in home ip xfrm state delete src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x999 &&
		grep -q " src 192.0.2.1 dst 192.0.2.2$" "$1"
}

# sa_installed_after FILE T: the time the first SA home -> office gateway
# was installed after T.
sa_installed_after() {
	awk -v t="$2" -v sa="src $HOME_WAN dst $GW_WAN" '
		$1 > t && (substr($0, length($1) + 2) == sa || substr($0, length($1) + 2) == "Updated " sa) { print $1; exit }' "$1"
}

# first_after T: the first of the times on stdin after T.
first_after() { awk -v t="$1" '$1 > t { print $1; exit }'; }

no_sas() { [ -z "$(run_in "$1" ip xfrm state list)" ]; }

# strongswan_hold: (after strongswan_scenario's setup) the trap policy
# mapped in hold mode: the very first datagram waits while charon
# negotiates and is delivered; after the CHILD_SA went down, a TCP connect as
# the first packet completes right after the new CHILD_SA is installed.
# Prints the measured times.
strongswan_hold() {
	local limit out t0 tsa tev trep tc c
	limit=$(release_limit)
	xnat map "spid=$spid" to "$MAPPED" pending hold
	assert_eq hold "$(mapping_field "$spid" pending)" "pending mode"
	monitor_start "$XNAT_TMP/monitor.log"
	xfrm_monitor_start "$XNAT_TMP/sa.log"
	capture_start router r-home wan

	log "the first datagram waits for the negotiation it starts, then arrives"
	out=$(run_in home $PEER udp-send "$OFFICE_HOST" 5001 first --timeout 30 --trace 2>&1) ||
		fail "the first datagram got no reply: $out"
	assert_contains "$out" "ok first" "reply to the first datagram"
	t0=$(trace_time start <<<"$out")
	trep=$(trace_time reply <<<"$out")
	tsa=$(sa_installed_after "$XNAT_TMP/sa.log" "$t0")
	[ -n "$tsa" ] || fail "no SA home -> office gateway installed after the send: $(cat "$XNAT_TMP/sa.log")"
	wait_for 10 "the monitor's 'sa established'" sa_events_ge "$XNAT_TMP/monitor.log" established "$spid" 1
	tev=$(sa_events "$XNAT_TMP/monitor.log" established "$spid" | first_after "$t0")
	log "first datagram: CHILD_SA installed $(fcalc "$tsa - $t0") s after the send; 'sa established' $(fcalc "$tev - $tsa") s and the reply $(fcalc "$trep - $tsa") s after the SA"
	assert_below "$limit" "$(fcalc "$tev - $tsa")" "'sa established' after the SA was installed (s)"
	assert_below "$limit" "$(fcalc "$trep - $tsa")" "the reply after the SA was installed (s)"
	assert_below "$(sa_events "$XNAT_TMP/monitor.log" established "$spid" | head -n1)" \
		"$(sa_events "$XNAT_TMP/monitor.log" pending "$spid" | head -n1)" "time of 'sa pending' (before 'sa established')"
	assert_eq "udp $MAPPED first" "$(cat "$XNAT_TMP/office.log")" "what the office received"
	assert_eq "held=1 released=1 overflow=0 timeout=0 error=0 queued=0" "$(hold_counters "$spid")" "hold counters"
	assert_eq 0 "$(mapping_field "$spid" pending_refused)" "refused flows"

	log "the IKE_SA and CHILD_SA go down; the trap policy stays"
	out=$(swanctl --terminate --ike tunnel --uri "unix://$XNAT_TMP/home/charon.vici" 2>&1) ||
		fail "swanctl --terminate: $out"
	wait_for 30 "the home box's SAs to go" no_sas home
	wait_for 30 "the office gateway's SAs to go" no_sas gw
	assert_eq "$spid" "$(trap_index)" "the trap policy's index"
	assert_eq active "$(mapping_field "$spid" state)" "mapping state"

	log "a TCP connect as the first packet completes right after the new CHILD_SA"
	c=$(hold_counters "$spid")
	capture_start office eth0 syn "tcp port 5002"
	out=$(run_in home timeout 60 $PEER tcp-send "$OFFICE_HOST" 5002 first-tcp --timeout 0 --trace 2>&1) ||
		fail "the TCP exchange failed: $out"
	assert_contains "$out" "ok first-tcp" "the TCP exchange"
	capture_stop syn
	t0=$(trace_time start <<<"$out")
	tc=$(trace_time connected <<<"$out")
	tsa=$(sa_installed_after "$XNAT_TMP/sa.log" "$t0")
	[ -n "$tsa" ] || fail "no SA home -> office gateway installed after the connect: $(cat "$XNAT_TMP/sa.log")"
	log "TCP connect: $(fcalc "$tc - $t0") s; CHILD_SA installed $(fcalc "$tsa - $t0") s after the connect began, the connect completed $(fcalc "$tc - $tsa") s after it"
	assert_below "$limit" "$(fcalc "$tc - $tsa")" "connect completed after the SA was installed (s)"
	assert_first_syn_answered syn "$(fcalc "$tc - $t0")"
	wait_for 10 "the second 'sa established'" sa_events_ge "$XNAT_TMP/monitor.log" established "$spid" 2
	assert_contains "$(cat "$XNAT_TMP/office.log")" "tcp $MAPPED first-tcp" "the office's TCP log"
	assert_ge $(($(counter released "$c") + 1)) "$(mapping_field "$spid" released)" "released packets"
	assert_eq 0 "$(mapping_field "$spid" hold_queued)" "packets in the hold queue"
	log "hold counters: $(hold_counters "$spid")"
	grep -E ' sa (pending|established) ' "$XNAT_TMP/monitor.log" | sed 's/^/#   /'

	capture_stop wan
	assert_eq 0 "$(capture_count wan "host $OFFICE_HOST or host $MAPPED")" "plaintext on the WAN"
	assert_ge 4 "$(capture_count wan "esp and src host $HOME_WAN and dst host $GW_WAN")" "ESP packets to the office gateway"
}
