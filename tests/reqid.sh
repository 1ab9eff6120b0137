# shellcheck shell=bash
# The scenario of tests/vm/52-reqid-follow: a reqid mapping on the reference topology.
# Source after lib.sh and howto.sh (key_field).

# out_index SRC DST: the index of the home box's out policy SRC -> DST.
out_index() {
	run_in home ip -s xfrm policy get src "$1" dst "$2" dir out | sed -n 's/.* index \([0-9]*\) .*/\1/p'
}

reqid_follow_scenario() {
	local fam=$1 old new other_src other_dst
	# The policies select the mapped /24 (/64), so that a second address
	# of it can be mapped too.
	howto_vars "$fam"
	howto_setup "$fam" "$PLEN"
	load_module

	log "a reqid mapping binds the policy with a template of that reqid"
	old=$SPID
	xnat map reqid=1 to "$MAPPED"
	assert_eq active "$(key_field reqid=1 state)" "state of the reqid mapping"
	assert_eq "$old" "$(key_field reqid=1 policies)" "policies bound by reqid 1"
	capture_start router r-home wan
	exchange home udp before-restart

	log "a policy of the other family with the same reqid (a dual-stack child) is not bound"
	if [ "$fam" = 4 ]; then other_src=fd00:20::/64 other_dst=fd00:10::/48; else other_src=10.20.30.0/24 other_dst=10.0.0.0/8; fi
	run_in home ip xfrm policy add src "$other_src" dst "$other_dst" dir out \
		tmpl src "$HOME_WAN" dst "$GW_WAN" proto esp reqid 1 mode tunnel

	log "the policy is deleted (the IKE daemon stops): inactive, with the reason"
	run_in home ip xfrm policy delete src "$MAPPED/$PLEN" dst "$OFFICE_NET" dir out
	wait_for 10 "the reqid mapping to go inactive" key_field_is reqid=1 state inactive
	assert_eq "no IPv$fam out policy with a template of reqid 1" "$(key_field reqid=1 reason)" "reason"
	assert_eq "" "$(key_field reqid=1 policies)" "policies bound while none exists"

	log "the policy comes back under a new index: the mapping follows by itself"
	run_in home ip xfrm policy add src "$MAPPED/$PLEN" dst "$OFFICE_NET" dir out \
		tmpl src "$HOME_WAN" dst "$GW_WAN" proto esp reqid 1 mode tunnel
	new=$(out_index "$MAPPED/$PLEN" "$OFFICE_NET")
	[ -n "$new" ] && [ "$new" != "$old" ] || fail "re-added policy has index '$new', expected a new one (old $old)"
	# Exactly the new index: the other-family policy, there since before,
	# is skipped by the same re-binding.
	wait_for 10 "the reqid mapping to bind index $new" key_field_is reqid=1 policies "$new"
	assert_eq active "$(key_field reqid=1 state)" "state after the policy came back"
	exchange home tcp after-restart
	exchange lan udp lan-after-restart

	log "a spid mapping of the old index stays inactive, and says why"
	xnat map "spid=$old" to "$MAPPED2"
	assert_eq inactive "$(key_field "spid=$old" state)" "state of the spid mapping of the old index"
	assert_eq "no out policy with index $old" "$(key_field "spid=$old" reason)" "reason"
	xnat unmap "spid=$old"

	log "a spid mapping wins over the reqid mapping on the policy it names"
	xnat map "spid=$new" to "$MAPPED2"
	assert_eq "$new" "$(key_field "spid=$new" policies)" "policies of the spid mapping"
	assert_eq "$new" "$(key_field reqid=1 policies)" "the reqid mapping still binds it"
	exchange home udp spid-wins
	xnat unmap "spid=$new"
	exchange home udp reqid-again

	capture_stop wan

	assert_eq "$(printf '%s\n' "$MAPPED" "$MAPPED2" | sort -u)" "$(office_sources)" "sources seen by the office"
	assert_eq "$MAPPED2" "$(awk '/spid-wins/ {print $2}' "$XNAT_TMP/office.log" | sort -u)" "source of the flow both mappings cover"
	assert_eq "$MAPPED" "$(awk '/reqid-again|after-restart/ {print $2}' "$XNAT_TMP/office.log" | sort -u)" "source of the reqid mapping's flows"
	assert_eq 0 "$(capture_count wan "host $OFFICE_HOST or host $MAPPED or host $MAPPED2 or host $LAN_HOST")" "plaintext of mapped flows on the WAN"
	assert_ge 4 "$(capture_count wan "esp")" "ESP packets on the WAN"
	assert_ge 4 "$(key_field reqid=1 flows)" "flows of the reqid mapping"
}
