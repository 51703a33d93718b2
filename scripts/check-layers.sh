#!/usr/bin/env bash
# check-layers.sh [ROOT] - fails when a lower layer #includes a higher one.
#
# Folders: proto (0) < broker, nodes (1, neither includes the other) <
# adapters (2). Inside nodes/ each file has a layer (below); a file may
# include files of its own layer or lower:
#   0 domain    store, referral table, consent gate, sector data, audit,
#               control replies and command rows (no daemon state)
#   1 services  the daemon state and its services (link, directory, outbox)
#   2 handlers  cases/consent/referrals, node info, operations, test.*
#   3 dispatch  control commands, inbound envelopes
#   4 loop      pl_node.c and main.c
# A nodes/ file missing from the table is an error: place it when adding it.
# Prints one line per violation and exits 1 if there is any.
#
# check-layers.sh --objects DIR [ROOT]: the same rule for calls, read with
# nm from the compiled nodes/ objects in DIR (e.g. build/CMakeFiles/
# pl_nodes.dir/nodes): a function defined in a higher layer's file and
# used by a lower one is a violation (an include check cannot see a call
# declared in pl_node_int.h).
set -u
objects=""
if [ "${1:-}" = --objects ]; then
    objects=${2:?usage: check-layers.sh --objects DIR [ROOT]}
    shift 2
fi
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}

# layer of a nodes/ file (by its name, .c and .h alike unless listed)
s_node_layer() {
    case "$1" in
    pl_store.* | pl_referral.* | pl_consent.* | pl_sector_data.* | \
        pl_audit.* | pl_audit_tools.* | pl_ctl_reply.* | pl_ctl_cmd.h | \
        pl_node_ctx.h | pl_records.* | pl_sealed.* | pl_outbox_state.* | pl_msg_kind.* | pl_link_state.* | \
        pl_session.* | pl_roles.* | pl_handover.* | pl_fhir.* | pl_fhir_read.* | \
        pl_fhir_map.* | pl_hsds.* | pl_hsds_merge.* | pl_rss.* | pl_followup.* | pl_suppress.* | \
        pl_svc.* | pl_svc_match.* | pl_svc_store.* | pl_slip.*)
        echo 0 ;;
    pl_node.h | pl_node_int.h | pl_link.* | pl_directory.* | pl_dir_pages.* | pl_dir_delta.* | pl_outbox.* | pl_node_catalog.*)
        echo 1 ;;
    pl_node_case.* | pl_case*.* | pl_refer*.* | pl_node_info.* | \
        pl_node_ops.* | pl_node_test.* | pl_staff.* | pl_token.* | pl_override.* | pl_handover_cmd.* | pl_fhir_cmd.* | \
        pl_report.* | pl_coord.* | pl_coord_fig.* | pl_node_svc.*)
        echo 2 ;;
    pl_node_ctl.* | pl_node_msg.* | pl_inbound.*)
        echo 3 ;;
    pl_node.c | main.c)
        echo 4 ;;
    *)
        echo "" ;;
    esac
}

s_dir_rank() {
    case "$1" in
    proto) echo 0 ;;
    broker | nodes) echo 1 ;;
    adapters) echo 2 ;;
    *) echo "" ;;
    esac
}

bad=0
if [ -n "$objects" ]; then
    defs=$(mktemp)
    trap 'rm -f "$defs"' EXIT
    for o in "$objects"/*.c.o; do
        b=$(basename "$o" .c.o)
        [ -f "$root/nodes/$b.c" ] || continue # a stale object
        nm --defined-only -g "$o" | awk -v f="$b" '$2 ~ /[TDRB]/ {print $3, f}'
    done >"$defs"
    for o in "$objects"/*.c.o; do
        b=$(basename "$o" .c.o)
        [ -f "$root/nodes/$b.c" ] || continue
        own=$(s_node_layer "$b.c")
        for sym in $(nm -u "$o" | awk '{print $2}'); do
            d=$(awk -v s="$sym" '$1 == s {print $2; exit}' "$defs")
            [ -n "$d" ] && [ "$d" != "$b" ] || continue
            dl=$(s_node_layer "$d.c")
            if [ -z "$own" ] || [ -z "$dl" ] || [ "$dl" -gt "$own" ]; then
                echo "check-layers: nodes/$b.c (layer ${own:-?}) calls $sym of nodes/$d.c (layer ${dl:-?})"
                bad=1
            fi
        done
    done
    exit $bad
fi
cd "$root" || exit 2
while IFS= read -r file; do
    dir=${file%%/*}
    base=${file##*/}
    rank=$(s_dir_rank "$dir")
    own=""
    if [ "$dir" = nodes ]; then
        own=$(s_node_layer "$base")
        if [ -z "$own" ]; then
            echo "check-layers: $file has no layer: add it to scripts/check-layers.sh"
            bad=1
            continue
        fi
    fi
    while IFS= read -r inc; do
        idir=${inc%%/*}
        ibase=${inc##*/}
        irank=$(s_dir_rank "$idir")
        [ -n "$irank" ] || continue # system or generated header
        if [ "$idir" != "$dir" ]; then
            if [ "$irank" -ge "$rank" ]; then
                echo "check-layers: $file includes $inc ($dir may not include $idir)"
                bad=1
            fi
            continue
        fi
        [ "$dir" = nodes ] || continue
        ilayer=$(s_node_layer "$ibase")
        if [ -z "$ilayer" ]; then
            echo "check-layers: $file includes $inc, which has no layer"
            bad=1
        elif [ "$ilayer" -gt "$own" ]; then
            echo "check-layers: $file (layer $own) includes $inc (layer $ilayer)"
            bad=1
        fi
    done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$file")
done < <(find proto broker nodes adapters -name '*.[ch]' 2>/dev/null | sort)
exit $bad
