# shellcheck shell=bash
# strongswan_scenario FAMILY: the HOWTO topology with strongSwan's charon on
# the home box (trap policy, start_action = trap) and on the office gateway
# instead of static SAs; the trap policy's index is mapped in eagain mode.
# Source after lib.sh and howto.sh.

strongswan_scenario() {
	howto_setup "$1"
	# No static tunnel: charon negotiates it.
	for ns in home gw; do
		run_in "$ns" ip xfrm state flush
		run_in "$ns" ip xfrm policy flush
	done

	# charon_start NS NAME LOCAL REMOTE LOCAL_TS REMOTE_TS START_ACTION
	charon_start() {
		local ns=$1 name=$2 dir=$XNAT_TMP/$2
		mkdir -p "$dir"
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
				}
			}
		}
	}
	secrets { ike-1 { secret = xfrm-nat-test-secret } }
	EOF2
		# A private /run per daemon: charon's pid file is fixed at /run/charon.pid.
		run_in "$ns" unshare -m sh -c "mount -t tmpfs tmpfs /run && \
			STRONGSWAN_CONF=$dir/strongswan.conf exec /usr/lib/ipsec/charon" >"$dir/stdout" 2>&1 &
		on_exit "kill $!"
		wait_for 60 "charon ($name) to listen on vici" test -S "$dir/charon.vici"
		swanctl --load-all --uri "unix://$dir/charon.vici" --file "$dir/swanctl.conf" >"$dir/load.log" 2>&1 ||
			fail "swanctl --load-all ($name): $(cat "$dir/load.log")"
	}

	charon_start gw office "$GW_WAN" "$HOME_WAN" "$OFFICE_NET" "$MAPPED/$HOSTLEN" none
	charon_start home home "$HOME_WAN" "$GW_WAN" "$MAPPED/$HOSTLEN" "$OFFICE_NET" trap

	trap_index() {
		run_in home ip -s xfrm policy list dir out |
			awk -v src="$MAPPED/$HOSTLEN" '$1 == "src" && $2 == src {found = 1} found && /index/ {for (i = 1; i < NF; i++) if ($i == "index") {print $(i + 1); exit}}'
	}
	wait_for 30 "charon's trap policy on the home box" test -n "$(trap_index)"
	spid=$(trap_index)
	log "the trap policy's index is $spid"
	load_module
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
