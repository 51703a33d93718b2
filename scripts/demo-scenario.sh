# scripts/demo-scenario.sh - the referral scenario of `make demo` (issue 7),
# sourced by scripts/demo.sh once the network runs. Uses $DEMO (node homes
# are $DEMO/<name>), $ONCE and the functions say and run.
#
# A returning family (two adults, two children) at the agency: consent,
# referrals to health, education and housing; the providers accept, start
# and complete; housing rejects for lack of capacity and the agency
# re-refers to a second housing office; one referral is cancelled. Every
# wait polls with a deadline (no blind sleeps). With ONCE=1 the final
# statuses are checked and the script fails if one is wrong.

AG="$DEMO/agency"
CM="Fatou Sarr"          # the agency's case manager
EXP=$(date -u -d '+1 year' +%Y-%m-%d)

# p HOME [--as NAME] ARGS...: the CLI on a node
p() { local h="$1"; shift; passerelle --home "$h" "$@"; }

# status HOME REFERRAL: the FHIR status this node shows
status() {
    p "$1" --json show "$2" 2>/dev/null \
        | sed -n 's/^  "status": "\([a-z-]*\)".*/\1/p' | head -n 1
}

# wait_status HOME REFERRAL STATUS: polls (at most ~90 s: a loaded CI)
wait_status() {
    local s="" i
    for ((i = 0; i < 900; i++)); do
        s=$(status "$1" "$2")
        [ "$s" = "$3" ] && return 0
        sleep 0.1
    done
    echo "!! referral ${2:0:12} at $(basename "$1") is '$s', expected '$3'" >&2
    return 1
}

# line WHO WHAT: a step as a case manager reads it
line() { printf '  %-34s %s\n' "$1" "$2"; }

say "6. A returning family arrives at the agency ($CM, case manager)"
echo "  (personal data goes through --stdin, so it never shows in 'ps')"
C_MOTHER=$(printf '%s' '{"given":"Aminata","family":"Diallo","birth":"1988-04-12","sex":"female","phone":"+221 77 000 11 22","language":"wo","needs":"economic,social,psychosocial"}' \
    | p "$AG" --as "$CM" case add --stdin)
C_FATHER=$(printf '%s' '{"given":"Moussa","family":"Diallo","birth":"1985-09-30","sex":"male","phone":"+221 77 000 33 44","language":"wo","needs":"economic,social"}' \
    | p "$AG" --as "$CM" case add --stdin)
C_GIRL=$(printf '%s' '{"given":"Awa","family":"Diallo","birth":"2014-02-03","sex":"female","language":"fr","needs":"social"}' \
    | p "$AG" --as "$CM" case add --stdin)
C_BOY=$(printf '%s' '{"given":"Ibrahima","family":"Diallo","birth":"2017-11-20","sex":"male","language":"fr","needs":"social"}' \
    | p "$AG" --as "$CM" case add --stdin)
line "agency: case Aminata (mother)" "$C_MOTHER"
line "agency: case Moussa (father)" "$C_FATHER"
line "agency: case Awa (girl)" "$C_GIRL"
line "agency: case Ibrahima (boy)" "$C_BOY"
run passerelle --home "$AG" case list --search diallo

say "7. Consent: the adults for themselves, the mother as guardian for the children"
for c in "$C_MOTHER" "$C_FATHER"; do
    p "$AG" --as "$CM" consent add --case "$c" --sectors health,education,housing \
        --given-by returnee --expires "$EXP" >/dev/null
done
for c in "$C_GIRL" "$C_BOY"; do
    p "$AG" --as "$CM" consent add --case "$c" --sectors health,education \
        --given-by guardian --guardian-name "Aminata Diallo" \
        --child-views "wants to go back to school with friends" \
        --expires "$EXP" >/dev/null
done
line "consent (returnee)" "Aminata, Moussa: health, education, housing until $EXP"
line "consent (guardian + child's views)" "Awa, Ibrahima: health, education until $EXP"
echo "  without consent a referral is refused before anything is encrypted:"
C_NONE=$(printf '%s' '{"given":"Test","family":"Sans-Consentement","birth":"1990-01-01"}' \
    | p "$AG" --as "$CM" case add --stdin)
if p "$AG" refer --case "$C_NONE" --to clinic --service primary-care 2>&1 | sed 's/^/  /'; then
    echo "!! a referral without consent was accepted" >&2; exit 1
fi

say "8. Referrals: health, education, housing"
R_HEALTH=$(p "$AG" --as "$CM" refer --case "$C_MOTHER" --to clinic --service primary-care \
    --priority urgent --note "follow-up of a chronic condition")
R_SCHOOL=$(p "$AG" --as "$CM" refer --case "$C_GIRL" --to school --service school-enrolment)
R_HOUSING=$(p "$AG" --as "$CM" refer --case "$C_FATHER" --to housing --service temporary-shelter \
    --priority emergency)
R_VACC=$(p "$AG" --as "$CM" refer --case "$C_BOY" --to clinic --service vaccination)
line "agency -> sn/clinic  (Aminata)" "primary-care       ${R_HEALTH:0:12}  requested"
line "agency -> sn/school  (Awa)" "school-enrolment   ${R_SCHOOL:0:12}  requested"
line "agency -> sn/housing (Moussa)" "temporary-shelter  ${R_HOUSING:0:12}  requested"
line "agency -> sn/clinic  (Ibrahima)" "vaccination        ${R_VACC:0:12}  requested"
for r in "$R_HEALTH" "$R_SCHOOL" "$R_HOUSING" "$R_VACC"; do
    wait_status "$AG" "$r" received
done
echo "  each provider's node stored its referral and sent the signed receipt:"
run passerelle --home "$AG" referrals --direction out

say "9. What each provider sees (only its sector's fields: the school gets no phone)"
run passerelle --home "$DEMO/clinic" show "$R_HEALTH"
run passerelle --home "$DEMO/school" show "$R_SCHOOL"

say "10. The providers act"
p "$DEMO/clinic" --as "Dr Ndiaye" accept "$R_HEALTH" >/dev/null
line "clinic (Dr Ndiaye)" "accepts primary-care for Aminata -> accepted"
p "$DEMO/school" --as "Mme Ba" accept "$R_SCHOOL" >/dev/null
line "school (Mme Ba)" "accepts school-enrolment for Awa -> accepted"
p "$DEMO/housing" --as "M. Faye" reject "$R_HOUSING" --reason no-capacity \
    --note "no free unit this month" >/dev/null
line "housing (M. Faye)" "rejects temporary-shelter: no-capacity -> rejected"
wait_status "$AG" "$R_HOUSING" rejected
line "agency ($CM)" "sees rejected (no-capacity); re-refers to sn/housing2"
R_HOUSING2=$(p "$AG" --as "$CM" refer --case "$C_FATHER" --to housing2 \
    --service temporary-shelter --priority emergency)
wait_status "$AG" "$R_VACC" received
p "$AG" --as "$CM" cancel "$R_VACC" --reason duplicate \
    --note "vaccination already done at the border health post" >/dev/null
line "agency ($CM)" "cancels vaccination for Ibrahima: duplicate -> cancelled"
p "$DEMO/clinic" --as "Dr Ndiaye" start "$R_HEALTH" >/dev/null
line "clinic (Dr Ndiaye)" "starts care -> in-progress"
p "$DEMO/school" --as "Mme Ba" start "$R_SCHOOL" >/dev/null
line "school (Mme Ba)" "Awa starts classes -> in-progress"
wait_status "$DEMO/housing2" "$R_HOUSING2" received
p "$DEMO/housing2" --as "Mme Sow" accept "$R_HOUSING2" >/dev/null
line "housing2 (Mme Sow)" "accepts temporary-shelter for Moussa -> accepted"
p "$DEMO/housing2" --as "Mme Sow" start "$R_HOUSING2" >/dev/null
line "housing2 (Mme Sow)" "family moves in -> in-progress"
p "$DEMO/clinic" --as "Dr Ndiaye" complete "$R_HEALTH" --outcome successful >/dev/null
line "clinic (Dr Ndiaye)" "care plan done -> completed (successful)"
p "$DEMO/school" --as "Mme Ba" complete "$R_SCHOOL" --outcome successful >/dev/null
line "school (Mme Ba)" "enrolled for the year -> completed (successful)"
p "$DEMO/housing2" --as "Mme Sow" complete "$R_HOUSING2" --outcome successful >/dev/null
line "housing2 (Mme Sow)" "shelter provided -> completed (successful)"

say "11. An unaccompanied child: best-interests assessment, child protection told"
C_UASC=$(printf '%s' '{"given":"Lamine","family":"Sy","birth":"2010-06-14","sex":"male","language":"wo","uasc":"unaccompanied","needs":"psychosocial"}' \
    | p "$AG" --as "$CM" case add --stdin)
line "agency: case Lamine (a minor, alone)" "$C_UASC"
p "$AG" --as "$CM" consent add --case "$C_UASC" --sectors health \
    --given-by returnee --expires "$EXP" >/dev/null
echo "  no parent is there to consent; without a best-interests assessment:"
if p "$AG" refer --case "$C_UASC" --to clinic --service mhpss-first-aid 2>&1 | sed 's/^/  /'; then
    echo "!! an unaccompanied child was referred without a BIA" >&2; exit 1
fi
p "$AG" --as "$CM" case bia --case "$C_UASC" --ref BIA-DKR-2025-031 \
    --date "$(date -u -d '-2 days' +%Y-%m-%d)" >/dev/null
line "agency ($CM)" "records best-interests assessment BIA-DKR-2025-031"
R_UASC=$(p "$AG" --as "$CM" refer --case "$C_UASC" --to clinic \
    --service mhpss-first-aid --priority urgent)
line "agency -> sn/clinic  (Lamine)" "mhpss-first-aid    ${R_UASC:0:12}  requested"
wait_status "$AG" "$R_UASC" received
echo "  the child-protection unit of the region is notified (no name, no birth date):"
for ((i = 0; i < 900; i++)); do
    p "$DEMO/cpu" --json notifications 2>/dev/null | grep -q "$R_UASC" && break
    sleep 0.1
done
run passerelle --home "$DEMO/cpu" notifications

say "12. The loop closes at the agency"
FAIL=0
for pair in "$R_HEALTH:completed" "$R_SCHOOL:completed" "$R_HOUSING:rejected" \
            "$R_HOUSING2:completed" "$R_VACC:cancelled" "$R_UASC:received"; do
    wait_status "$AG" "${pair%%:*}" "${pair##*:}" || FAIL=1
done
run passerelle --home "$AG" referrals
run passerelle --home "$AG" show "$R_HOUSING"
run passerelle --home "$AG" case show "$C_FATHER"
run passerelle --home "$AG" audit verify
run passerelle --home "$DEMO/clinic" audit verify
if [ "$ONCE" = 1 ]; then
    for pair in "$R_HEALTH:completed" "$R_SCHOOL:completed" "$R_HOUSING:rejected" \
                "$R_HOUSING2:completed" "$R_VACC:cancelled" "$R_UASC:received"; do
        got=$(status "$AG" "${pair%%:*}")
        printf 'final %s %s expected=%s\n' "${pair%%:*}" "$got" "${pair##*:}"
        [ "$got" = "${pair##*:}" ] || FAIL=1
    done
    [ "$FAIL" = 0 ] || { echo "demo: FINAL STATUSES WRONG" >&2; exit 1; }
    echo "demo: all final statuses as expected"
fi

# ---- issue 13: the handover of a case (DESIGN.md §7.2)
# handover_demo: a mother and her son handed over by the host agency to
# the agency of their region of origin, start to arrival, as the case
# managers on both sides read it. The receiving side is HO_TO_HOME /
# HO_TO_ADDR with its child-protection node HO_CP_HOME when a second
# network is set up (GN_AGENCY and GN_CP of scripts/demo-federation.sh:
# demo.sh calls this after it); otherwise two nodes of this network in
# another region (kolda) are enrolled and started here.
handover_demo() {
    local to_home=${HO_TO_HOME:-} to_addr=${HO_TO_ADDR:-} cp_home=${HO_CP_HOME:-}
    if [ -z "$to_home" ] && [ -n "${GN_AGENCY:-}" ]; then
        # the second network of scripts/demo-federation.sh: across the border
        to_home=$GN_AGENCY to_addr=gn/agency cp_home=$GN_CP
    fi
    local cm2="Ousmane Faye" cpo="Fatou Ba" spec name sector region display i
    if [ -z "$to_home" ]; then
        say "13. The agency of the region of origin joins (kolda: agency, child protection)"
        for spec in "origin agency kolda Agence-de-reinsertion-Kolda" \
                    "cpkolda child-protection kolda Protection-de-l-enfance-Kolda"; do
            read -r name sector region display <<<"$spec"
            passerelle init --home "$DEMO/$name" >/dev/null
            passerelle authority enroll --home "$A" --node "$DEMO/$name" --name "$name" \
                --sector "$sector" --country SN --region "$region" \
                --display-name "${display//-/ }" >/dev/null
            cp "$DEMO/$name/node.cert" "$B/certs/$name.cert"
            cp "$B/node.cert" "$DEMO/$name/broker.cert"
        done
        passerelle broker reload --home "$B" >/dev/null
        for name in origin cpkolda; do
            passerelle-node --home "$DEMO/$name" --broker "$EP" 2>"$DEMO/$name.log" &
            PIDS+=($!)
        done
        for name in origin cpkolda; do
            for ((i = 0; i < 400; i++)); do [ -S "$DEMO/$name/control" ] && break; sleep 0.1; done
        done
        to_home=$DEMO/origin to_addr=sn/origin cp_home=$DEMO/cpkolda
    fi
    ho_status() {
        p "$1" --json handover show "$2" 2>/dev/null \
            | sed -n 's/^  "status": "\([a-z-]*\)".*/\1/p' | head -n 1
    }
    ho_wait() {
        local s=""
        for ((i = 0; i < 900; i++)); do
            s=$(ho_status "$1" "$2") || s="" # not there yet: wait
            [ "$s" = "$3" ] && return 0
            sleep 0.1
        done
        echo "!! handover ${2:0:12} at $(basename "$1") is '$s', expected '$3'" >&2
        return 1
    }

    say "14. Going home: the Bah family (a mother and her son, 9) is handed over"
    local h_m h_c arrival
    arrival=$(date -u -d '+14 days' +%Y-%m-%d)
    local c_m c_c
    c_m=$(printf '%s' '{"given":"Mariama","family":"Bah","birth":"1990-03-08","sex":"female","language":"ff","needs":"economic,social"}' \
        | p "$AG" --as "$CM" case add --stdin)
    c_c=$(printf '%s' '{"given":"Oumar","family":"Bah","birth":"2016-10-21","sex":"male","language":"ff","needs":"social,psychosocial"}' \
        | p "$AG" --as "$CM" case add --stdin)
    line "agency: case Mariama (mother)" "$c_m"
    line "agency: case Oumar (son, 9)" "$c_c"
    # casework the handover carries (DESIGN.md §7.2): an assessment, a plan
    printf '%s' '{"outcome":"tailor, 12 years of trade; no savings left","notes":"wants to restart her workshop"}' \
        | p "$AG" --as "$CM" assess add --case "$c_m" --type skills --stdin >/dev/null
    printf '%s' '{"goals":{"economic":"reopen the tailoring workshop within 3 months"},"own_goals":"my own workshop again"}' \
        | p "$AG" --as "$CM" plan set --case "$c_m" --stdin >/dev/null
    line "agency ($CM)" "skills assessment and a draft plan for Mariama"
    for ((i = 0; i < 400; i++)); do
        p "$AG" directory 2>/dev/null | grep -q "$to_addr" && break
        sleep 0.1
    done
    echo "  without the consent to transfer, nothing leaves:"
    if p "$AG" handover --case "$c_m" --to "$to_addr" --arrival "$arrival" 2>&1 | sed 's/^/  /'; then
        echo "!! a handover without consent was sent" >&2; exit 1
    fi
    echo "  a child: not without a best-interests determination recommending return:"
    if p "$AG" handover --case "$c_c" --to "$to_addr" --arrival "$arrival" \
        --consent-transfer yes 2>&1 | sed 's/^/  /'; then
        echo "!! a child's handover without a BID was sent" >&2; exit 1
    fi
    h_m=$(printf '%s' '{"escort":"IOM operations, flight HC 404","note":"mother works as a tailor; wants a small-business start-up grant"}' \
        | p "$AG" --as "$CM" handover --case "$c_m" --to "$to_addr" --arrival "$arrival" \
            --consent-transfer yes --stdin)
    h_c=$(printf '%s' '{"escort":"IOM operations, flight HC 404","note":"travels with his mother; school records attached"}' \
        | p "$AG" --as "$CM" handover --case "$c_c" --to "$to_addr" --arrival "$arrival" \
            --consent-transfer yes --bid-ref BID-DKR-2025-044 \
            --bid-date "$(date -u -d '-5 days' +%Y-%m-%d)" --bid-outcome return --stdin)
    line "agency ($CM) -> $to_addr" "handover ${h_m:0:12} (Mariama) sent"
    line "agency ($CM) -> $to_addr" "handover ${h_c:0:12} (Oumar, BID: return) sent"
    ho_wait "$to_home" "$h_c" sent
    run passerelle --home "$to_home" handovers
    run passerelle --home "$to_home" handover show "$h_c"

    say "15. At the origin: acknowledged; child protection of the region told"
    p "$to_home" --as "$cm2" handover ack "$h_m" >/dev/null
    p "$to_home" --as "$cm2" handover ack "$h_c" >/dev/null
    line "$to_addr ($cm2)" "acknowledges both handovers"
    for ((i = 0; i < 900; i++)); do
        p "$cp_home" --json notifications 2>/dev/null | grep -q "$h_c" && break
        sleep 0.1
    done
    run passerelle --home "$cp_home" notifications
    echo "  the child's handover cannot be accepted before child protection acknowledges it:"
    if p "$to_home" handover accept "$h_c" 2>&1 | sed 's/^/  /'; then
        echo "!! a child's handover was accepted without cp-ack" >&2; exit 1
    fi
    p "$cp_home" --as "$cpo" handover cp-ack "$h_c" | sed 's/^/  /'
    for ((i = 0; i < 900; i++)); do
        p "$to_home" --json handover show "$h_c" 2>/dev/null | grep -q '"cp_ack"' && break
        sleep 0.1
    done
    local nc_m nc_c
    nc_m=$(p "$to_home" --as "$cm2" handover accept "$h_m")
    nc_c=$(p "$to_home" --as "$cm2" handover accept "$h_c")
    line "$to_addr ($cm2)" "accepts: $nc_m"
    line "$to_addr ($cm2)" "accepts: $nc_c"
    ho_wait "$AG" "$h_c" accepted
    run passerelle --home "$to_home" case show "${nc_c##* }"
    echo "  Mariama's new case starts with the assessment and the draft plan it was sent:"
    run passerelle --home "$to_home" timeline "${nc_m##* }"

    say "16. Arrival; the host agency's side"
    p "$to_home" --as "$cm2" handover arrived "$h_m" >/dev/null
    p "$to_home" --as "$cm2" handover arrived "$h_c" >/dev/null
    line "$to_addr ($cm2)" "the family arrived at the airport: both arrived"
    ho_wait "$AG" "$h_m" arrived
    ho_wait "$AG" "$h_c" arrived
    run passerelle --home "$AG" handovers --direction out
    run passerelle --home "$AG" handover show "$h_c"
    run passerelle --home "$AG" case show "$c_c"
    echo "  (the agency erases the rest of both cases after --handover-keep-days, 90 by default)"
    run passerelle --home "$to_home" audit verify
    if [ "$ONCE" = 1 ]; then
        for h in "$h_m" "$h_c"; do
            [ "$(ho_status "$AG" "$h")" = arrived ] \
                && [ "$(ho_status "$to_home" "$h")" = arrived ] \
                || { echo "demo: HANDOVER ${h:0:12} NOT ARRIVED" >&2; exit 1; }
        done
        echo "demo: both handovers arrived"
    fi
}
