# shellcheck shell=bash
# libreswan's pluto in the test namespaces.  Debian 12's libreswan package
# conflicts with strongSwan's, so scripts/install-deps.sh does not install
# it: it unpacks the .deb into $XNAT_TOOLS/libreswan (apt-get download,
# dpkg -x), and pluto runs from there.  Every instance gets its own files
# under $XNAT_TMP/NAME: ipsec.conf, ipsec.secrets, an NSS database (nss/,
# made by certutil), and a run directory (run/: pluto.ctl, pluto.pid), so two
# plutos in two namespaces of one machine do not meet; nothing under /etc or
# /run is used.
# Source after lib.sh.

LSW_ROOT=${XNAT_TOOLS:-${XNAT_CACHE:-$HOME/.cache/xfrm-nat}}/libreswan
LSW_EXEC=$LSW_ROOT/usr/libexec/ipsec

# require_libreswan: pluto, whack and addconn where make deps puts them.
require_libreswan() {
	local p
	for p in pluto whack addconn; do
		[ -x "$LSW_EXEC/$p" ] || fail "$LSW_EXEC/$p missing: Debian's libreswan conflicts with strongSwan, so make deps (scripts/install-deps.sh) unpacks its .deb into $LSW_ROOT; run make deps"
	done
	"$LSW_EXEC/pluto" --version >/dev/null 2>&1 ||
		fail "$LSW_EXEC/pluto does not run: $("$LSW_EXEC/pluto" --version 2>&1 | head -n 3)"
	require_cmd certutil
}

# pluto_start NS NAME LOCAL REMOTE LOCAL_TS REMOTE_TS AUTO [REQID]: pluto in
# NS, one IKEv2 PSK connection "tunnel" (tunnel mode, LOCAL_TS === REMOTE_TS),
# with auto=AUTO (ondemand: the trap policy, add: answer only), pinned to
# REQID when given (ipsec.conf's reqid=).  A second call with the same NAME
# starts it again on the same files: a daemon restart.  Its pid in
# pluto_pid[NAME].
pluto_start() {
	local reqid=${8:+reqid=$8}
	pluto_run "$1" "$2" <<EOF
	left=$3
	leftsubnet=$5
	right=$4
	rightsubnet=$6
	leftupdown=%disabled
	$reqid
	auto=$7
EOF
}

# pluto_run NS NAME < CONN: pluto NAME in NS, its connection "tunnel" the
# lines of CONN, indented or not (the addresses, subnets, updown and auto=) besides what every
# test's has (IKEv2, the PSK of @NAME and its peer, the proposals).  As
# pluto_start, which runs through it.
declare -gA pluto_pid=()
pluto_run() {
	local ns=$1 name=$2 dir=$XNAT_TMP/$2 peer
	[ "$name" = home ] && peer=office || peer=home
	mkdir -p "$dir/run" "$dir/nss"
	rm -f "$dir/run/pluto.ctl" "$dir/run/pluto.pid"
	{
		cat <<EOF
config setup
	logfile=$dir/pluto.log
	logappend=yes
	plutodebug=base
	dumpdir=$dir/run
	dnssec-enable=no
	uniqueids=yes

conn tunnel
	ikev2=insist
	authby=secret
	type=tunnel
	leftid=@$name
	rightid=@$peer
	ike=aes128-sha2_256;modp2048
	esp=aes_gcm128
	retransmit-timeout=60s
	retransmit-interval=1000
EOF
		# ipsec.conf's conn lines are indented.
		sed 's/^[[:space:]]*/\t/'
	} >"$dir/ipsec.conf"

	printf '@%s @%s : PSK "xfrm-nat-test-secret"\n' "$name" "$peer" >"$dir/ipsec.secrets"
	chmod 600 "$dir/ipsec.secrets"
	if ! [ -f "$dir/nss/cert9.db" ]; then
		certutil -N -d "sql:$dir/nss" --empty-password >"$dir/certutil.log" 2>&1 ||
			fail "certutil -N ($name): $(cat "$dir/certutil.log")"
	fi
	# pluto runs /usr/libexec/ipsec/addconn, a path built into it: a private
	# mount namespace sees the unpacked package's libexec there.  Not through
	# run_in: $! is then pluto itself (ip, unshare and sh exec).
	ip netns exec "$ns" unshare -m sh -c "mount --bind '$LSW_ROOT/usr/libexec' /usr/libexec && \
		exec /usr/libexec/ipsec/pluto --nofork --config '$dir/ipsec.conf' \
		--rundir '$dir/run' --nssdir '$dir/nss' --ipsecdir '$dir' \
		--secretsfile '$dir/ipsec.secrets' --logfile '$dir/pluto.log' \
		--no-dnssec" >>"$dir/stdout" 2>&1 &
	pluto_pid[$name]=$!
	on_exit "kill $!"
	wait_for 60 "pluto ($name) to listen on $dir/run/pluto.ctl" test -S "$dir/run/pluto.ctl"
	lsw_whack "$name" --listen >/dev/null
	run_in "$ns" "$LSW_EXEC/addconn" --config "$dir/ipsec.conf" --ctlsocket "$dir/run/pluto.ctl" \
		--autoall >"$dir/addconn.log" 2>&1 ||
		fail "addconn --autoall ($name): $(cat "$dir/addconn.log"; tail -n 20 "$dir/pluto.log")"
}

# lsw_whack NAME ARGS...: whack against pluto NAME.
lsw_whack() {
	local name=$1 ns out
	shift
	[ "$name" = home ] && ns=home || ns=gw
	out=$(run_in "$ns" "$LSW_EXEC/whack" --ctlsocket "$XNAT_TMP/$name/run/pluto.ctl" "$@" 2>&1) ||
		fail "whack $* ($name): $out"
	printf '%s\n' "$out"
}

# pluto_stop NAME: stop pluto as its service does (whack --shutdown: its
# states, SAs and policies go) and wait for it to exit.
pluto_stop() {
	local pid=${pluto_pid[$1]:-}
	[ -n "$pid" ] || fail "pluto_stop: no pluto named $1"
	lsw_whack "$1" --shutdown >/dev/null
	wait_for 60 "pluto ($1) to exit" eval "! kill -0 $pid"
	wait "$pid" 2>/dev/null || true
	unset "pluto_pid[$1]"
}
