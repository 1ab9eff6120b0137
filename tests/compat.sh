# shellcheck shell=bash
# The compatibility matrix of the pending modes (tests/vm/37-41): real
# senders (C, Python, Go, curl) against a mapping whose policy stays while
# its SA is missing, in each pending mode, on the reference topology (IPv4).
# Source after lib.sh and howto.sh.
#
# A cell is one sender run from the home box while the out SA is missing;
# the SA is added $COMPAT_SA_DELAY s after the sender's "start" line, once
# the mapping has counted the flow as pending (at once if the sender has
# ended before), the way tests 20 and 25 add it.
# Each sender prints "start T", maybe "connected T", and
# "result R elapsed S cpu C calls N" (tests/senders/).  A cell records:
#
#   res      R: ok (the reply came back), timeout, an errno name, exitN
#   el       seconds from the sender's start to its result
#   cpu      the sender's user+system CPU seconds
#   calls    send/connect calls the sender made (C counts its retries;
#            the others report 1: Python's and Go's retries are inside)
#   ref drp nb held
#            what the mapping counted meanwhile: pending_refused,
#            pending_drops, pending_nonblock_held ("-" when xnatctl does
#            not print it), held
#   at       when the SA came, in seconds after the sender's start
#   sa       for res=ok: seconds from the SA's arrival (the start of
#            `ip xfrm state add`, which under TCG takes a tenth of a second
#            or more to start and install it) to the connect (TCP) or the
#            reply (UDP); "-" otherwise
#   in       the same from the return of `ip xfrm state add`: negative when
#            the connect or reply came before the command had returned
#   retry    for res other than ok: the same sender once the SA is up
#            (ok: the next call goes through); "-" otherwise
#   office   datagrams/connections of the cell (and its retry) that the
#            office host received from the mapped address
#
# compat_expect then checks recorded cells; compat_finish prints the table
# (a "cell ..." line each, in the test's log), checks ESP on the wire and
# no plaintext, and fails listing every unmet expectation.

SENDERS=$REPO/tests/senders
CSEND=$SENDERS/bin/csend
GOSEND=$SENDERS/bin/gosend
PYSEND="python3 $SENDERS/pysend.py"
RUSAGE="python3 $SENDERS/rusage.py"
COMPAT_SA_DELAY=1.5

declare -gA CELL=()
COMPAT_KEYS=()
COMPAT_FAILS=()

# compat_setup: the reference topology, the module, the mapping (eagain), the
# out SA present, and a capture of the WAN for the whole test.
compat_setup() {
	howto_setup 4
	load_module
	xnat map "spid=$SPID" to "$MAPPED"
	COMPAT_MODE=eagain
	COMPAT_SA=1
	COMPAT_C=
	capture_start router r-home compat
}

# require_senders: the programs `make senders` builds on the host.
require_senders() {
	local f
	for f in "$@"; do
		[ -x "$f" ] || fail "$f not built (make senders; tests/check.sh builds it before the VM tests)"
	done
}

# compat_sa_del: delete the out SA (the policy stays).
compat_sa_del() {
	sa_del
	COMPAT_SA=0
}

# compat_mode MODE: the mapping's pending mode (replace keeps the mapping).
compat_mode() {
	[ "$COMPAT_MODE" = "$1" ] && return 0
	xnat map "spid=$SPID" to "$MAPPED" pending "$1" replace
	COMPAT_MODE=$1
}

# compat_counters: "refused drops nonblock-drops held" of the mapping.
compat_counters() {
	# One line of JSON; no python3 (its start costs seconds under TCG).
	xnat -j show "spid=$SPID" | awk '{
		n = split("pending_refused pending_drops pending_nonblock_held held", f, " ")
		for (i = 1; i <= n; i++) {
			v = "-"
			if (match($0, "\"" f[i] "\":[0-9]+")) { v = substr($0, RSTART, RLENGTH); sub(/.*:/, "", v) }
			printf "%s%s", v, (i < n ? " " : "\n")
		}
	}'
}

_compat_delta() { if [ "$1" = - ] || [ "$2" = - ]; then echo -; else echo $(($2 - $1)); fi; }

# _compat_run OUT CMD...: run a sender in the home box, in the background,
# its output in OUT; pid in $COMPAT_PID.
_compat_run() {
	local out=$1
	shift
	# Not run_in: the job's own ERR trap would report the sender's failure.
	(
		trap - ERR
		exec ip netns exec home timeout 30 "$@"
	) >"$out" 2>&1 &
	COMPAT_PID=$!
}

# office_got TAG: exchanges the office host logged from the mapped address
# with exactly TAG (UDP/TCP servers), or HTTP requests for /TAG.
office_got() {
	cat "$XNAT_TMP/office.log" "$XNAT_TMP/http.log" 2>/dev/null |
		grep -cE -- "^((udp|tcp) $MAPPED $1\$|$MAPPED .*\"GET /$1 )" || true
}

# compat_cell KEY MODE CMD...: one cell; "@MSG@" in CMD stands for the
# cell's tag (KEY-MODE, KEY-MODE-retry for the retry).
compat_cell() {
	local key=$1 mode=$2 tag out c0 c1 start tsa tsa_in res conn t_ok i
	shift 2
	tag="$key-$mode"
	out=$XNAT_TMP/$tag.out
	# The counters before: those read after the last cell, unless the
	# mode changed since (one xnatctl the less per cell).
	[ "$COMPAT_MODE" = "$mode" ] && [ -n "$COMPAT_C" ] && c0=$COMPAT_C || c0=
	compat_mode "$mode"
	[ "$COMPAT_SA" = 0 ] || { sa_del; COMPAT_SA=0; }
	[ -n "$c0" ] || c0=$(compat_counters)
	_compat_run "$out" "${@//@MSG@/$tag}"
	wait_for 30 "the start of sender $tag" grep -q '^start ' "$out"
	start=$(trace_time start "$out")
	# The SA comes $COMPAT_SA_DELAY s after the start once the mapping has
	# counted the flow as pending (a slow starter, like curl under TCG,
	# may not have sent anything yet), or once the sender has ended.
	local due
	due=$(awk -v s="$start" -v d="$COMPAT_SA_DELAY" 'BEGIN { printf "%.0f", (s + d) * 1000000 }')
	local seen=0
	while kill -0 "$COMPAT_PID" 2>/dev/null; do
		# Counters are polled from the start: xnatctl is slow on a
		# loaded TCG guest, and the SA must not come late.
		[ "$seen" = 1 ] || [ "$(compat_counters)" = "$c0" ] || seen=1
		if [ "$seen" = 1 ]; then
			((${EPOCHREALTIME/./} < due)) || break
			sleep 0.05
		elif ((${EPOCHREALTIME/./} > due + 20000000)); then
			fail "sender $tag: nothing pending after 20 s: $(cat "$out")"
		fi
	done
	tsa=$EPOCHREALTIME
	sa_add
	tsa_in=$EPOCHREALTIME
	COMPAT_SA=1
	wait "$COMPAT_PID" || true
	c1=$(compat_counters)
	COMPAT_C=$c1
	local -a a b r
	read -r -a r <<<"$(grep '^result ' "$out" || true)"
	[ "${#r[@]}" = 8 ] || fail "sender $tag printed no result: $(cat "$out")"
	res=${r[1]}
	read -r -a a <<<"$c0"
	read -r -a b <<<"$c1"
	CELL[$key/$mode/res]=$res
	CELL[$key/$mode/el]=${r[3]}
	CELL[$key/$mode/cpu]=${r[5]}
	CELL[$key/$mode/calls]=${r[7]}
	CELL[$key/$mode/ref]=$(_compat_delta "${a[0]}" "${b[0]}")
	CELL[$key/$mode/drp]=$(_compat_delta "${a[1]}" "${b[1]}")
	CELL[$key/$mode/nb]=$(_compat_delta "${a[2]}" "${b[2]}")
	CELL[$key/$mode/held]=$(_compat_delta "${a[3]}" "${b[3]}")
	CELL[$key/$mode/at]=$(awk -v t="$tsa" -v s="$start" 'BEGIN { printf "%.2f", t - s }')
	CELL[$key/$mode/sa]=-
	CELL[$key/$mode/in]=-
	CELL[$key/$mode/retry]=-
	if [ "$res" = ok ]; then
		conn=$(trace_time connected "$out")
		t_ok=${conn:-$(awk -v s="$start" -v e="${CELL[$key/$mode/el]}" 'BEGIN { printf "%.6f", s + e }')}
		CELL[$key/$mode/sa]=$(awk -v t="$t_ok" -v s="$tsa" 'BEGIN { printf "%.3f", t - s }')
		CELL[$key/$mode/in]=$(awk -v t="$t_ok" -v s="$tsa_in" 'BEGIN { printf "%.3f", t - s }')
	else
		# Once the SA is up, the same sender goes through.
		_compat_run "$out.retry" "${@//@MSG@/$tag-retry}"
		wait "$COMPAT_PID" || true
		read -r -a r <<<"$(grep '^result ' "$out.retry" || true)"
		CELL[$key/$mode/retry]=${r[1]:-none}
		[ -n "${r[1]:-}" ] || log "retry of $tag printed no result: $(cat "$out.retry")"
	fi
	CELL[$key/$mode/office]=$(($(office_got "$tag") + $(office_got "$tag-retry")))
	COMPAT_KEYS+=("$key/$mode")
	log "$(compat_line "$key/$mode")"
	grep -v '^\(start\|connected\|result\) ' "$out" | sed 's/^/#   sender: /' || true
}

compat_line() {
	local k=$1 f line="cell $1:"
	for f in res el cpu calls ref drp nb held at sa in retry office; do
		line+=" $f=${CELL[$k/$f]}"
	done
	echo "$line"
}

# compat_expect KEY MODE CHECK...: CHECK is FIELD=VALUE, FIELD<NUMBER or
# FIELD>=NUMBER (numbers compared as floats); unmet ones are collected.
compat_expect() {
	local k="$1/$2" c f op v have ok
	shift 2
	[ -n "${CELL[$k/res]:-}" ] || { COMPAT_FAILS+=("$k: no such cell"); return; }
	for c in "$@"; do
		[[ $c =~ ^([a-z]+)(=|<|>=)(.*)$ ]] || fail "compat_expect: bad check '$c'"
		f=${BASH_REMATCH[1]} op=${BASH_REMATCH[2]} v=${BASH_REMATCH[3]}
		have=${CELL[$k/$f]}
		case $op in
		=) [ "$have" = "$v" ] && ok=1 || ok=0 ;;
		*)
			ok=0
			[[ $have =~ ^-?[0-9.]+$ ]] &&
				awk -v a="$have" -v b="$v" -v op="$op" 'BEGIN { exit !(op == "<" ? a + 0 < b + 0 : a + 0 >= b + 0) }' &&
				ok=1
			;;
		esac
		[ "$ok" = 1 ] || COMPAT_FAILS+=("$k: expected $f$op$v, got $f=$have")
	done
}

# compat_expect_done KEY MODE: the flow went through once the SA was up,
# from the mapped address: the cell's own exchange (res=ok) or its retry.
compat_expect_done() {
	local k="$1/$2"
	if [ "${CELL[$k/res]}" = ok ]; then
		compat_expect "$1" "$2" office=1
	else
		compat_expect "$1" "$2" retry=ok office=1
	fi
}

# compat_finish: the table, the wire, then the verdict.
compat_finish() {
	local k plain
	capture_stop compat
	log "the matrix (fields: see tests/compat.sh)"
	for k in "${COMPAT_KEYS[@]}"; do log "  $(compat_line "$k")"; done
	plain=$(capture_count compat "not esp and (host $MAPPED or host $OFFICE_HOST or host $LAN_HOST)")
	[ "$plain" = 0 ] || COMPAT_FAILS+=("plaintext on the WAN: $(capture_show compat "not esp and (host $MAPPED or host $OFFICE_HOST)" | head -n 10)")
	local esp
	esp=$(capture_count compat "esp and src host $HOME_WAN and dst host $GW_WAN")
	log "ESP packets home -> office gateway: $esp"
	[ "$esp" -ge "${#COMPAT_KEYS[@]}" ] || COMPAT_FAILS+=("ESP packets to the office gateway: $esp, fewer than the ${#COMPAT_KEYS[@]} cells")
	[ ! -s "$XNAT_TMP/office.log" ] || assert_eq "$MAPPED" "$(office_sources)" "sources seen by the office's UDP/TCP servers"
	if [ ${#COMPAT_FAILS[@]} -gt 0 ]; then
		printf '# unmet: %s\n' "${COMPAT_FAILS[@]}"
		fail "${#COMPAT_FAILS[@]} unmet expectation(s), listed above"
	fi
}
