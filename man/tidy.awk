# tidy.awk - drops the paragraph macros scdoc emits where roff needs none
# (right after a section heading, or followed by another block macro), so
# that `mandoc -Tlint` has nothing to warn about. Output of scdoc in, man
# page out.
function flush() {
    if (pending) {
        print ".PP"
        pending = 0
    }
}
/^\.(P|PP|LP)$/ {
    if (!after_heading)
        pending = 1
    next
}
/^\.(SH|SS|P|PP|LP|TP|RS|RE|IP)( |$)/ {
    pending = 0
}
/^$/ { next }
{
    flush()
    after_heading = ($0 ~ /^\.(SH|SS)( |$)/)
    print
}
