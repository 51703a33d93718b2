#!/bin/bash
# faults_table.sh LOG - the table of `make faults`: one row per
# "FAULT-RESULT fault=... runs=... acknowledged=... lost=... duplicated=...
# control_lost=... checks=..." line the fault tests print
# (tests/faults/pl_faults.c; -1 = not measured, shown "-"), then the
# measurements ("FAULT-NOTE ...") and the verdict of each test.
# Layer: tests (faults).
set -euo pipefail
LOG=${1:?usage: faults_table.sh LOG}
awk '
function v(x) { return x == "-1" || x == "" ? "-" : x }
/FAULT-RESULT/ {
    delete f
    for (i = 1; i <= NF; i++) if (split($i, kv, "=") == 2) f[kv[1]] = kv[2]
    b = f["checks"]
    if (b != "ok") { sub(/^failed:/, "", b); b = b " checks failed" }
    rows[++n] = sprintf("| %-26s | %4s | %12s | %5s | %10s | %12s | %-17s |",
        f["fault"], v(f["runs"]), v(f["acknowledged"]), v(f["lost"]),
        v(f["duplicated"]), v(f["control_lost"]), b)
}
/FAULT-NOTE/ { sub(/^.*FAULT-NOTE /, ""); notes[++m] = $0 }
/Test +#[0-9]+: faults\// { verdicts[++k] = $0 }
END {
    print "| fault                      | runs | acknowledged |  lost | duplicated | control lost | behaviour         |"
    print "|----------------------------|------|--------------|-------|------------|--------------|-------------------|"
    for (i = 1; i <= n; i++) print rows[i]
    print ""
    for (i = 1; i <= m; i++) print "measured: " notes[i]
    for (i = 1; i <= k; i++) print verdicts[i]
}' "$LOG"
