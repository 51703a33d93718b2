#!/bin/bash
# faults_table.sh LOG - the table of `make faults`: one row per
# "FAULT-RESULT fault=... runs=... acknowledged=... lost=... duplicated=...
# control_lost=..." line the fault tests print (tests/faults/pl_faults.c),
# plus the link notes and the verdict of each test. Layer: tests (faults).
set -euo pipefail
LOG=${1:?usage: faults_table.sh LOG}
awk '
/FAULT-RESULT/ {
    delete f
    for (i = 1; i <= NF; i++) if (split($i, kv, "=") == 2) f[kv[1]] = kv[2]
    ctl = f["control_lost"] == "-1" ? "-" : f["control_lost"]
    rows[++n] = sprintf("| %-26s | %5s | %12s | %5s | %10s | %21s |",
        f["fault"], f["runs"], f["acknowledged"], f["lost"], f["duplicated"], ctl)
}
/FAULT-NOTE/ { sub(/^.*FAULT-NOTE /, ""); notes[++m] = $0 }
/Test +#[0-9]+: faults\// { verdicts[++k] = $0 }
END {
    print "| fault                      |  runs | acknowledged |  lost | duplicated | negative-control lost |"
    print "|----------------------------|-------|--------------|-------|------------|-----------------------|"
    for (i = 1; i <= n; i++) print rows[i]
    for (i = 1; i <= m; i++) print "note: " notes[i]
    for (i = 1; i <= k; i++) print verdicts[i]
}' "$LOG"
