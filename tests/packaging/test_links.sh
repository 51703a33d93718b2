#!/usr/bin/env bash
# test_links - no dead relative link in README.md and docs/*.md: every
# [text](target) that is not a URL (scheme:) or a bare #anchor must name a
# file or folder that exists, relative to the file the link is in (a
# #fragment is cut off first). Links inside code blocks and inline code
# are not links and are skipped. The guides README lists must all exist.
set -euo pipefail
TEST_NAME=test_links
SRC=${PL_SRC_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
T=$(mktemp -d "${TMPDIR:-/tmp}/pl-links.XXXXXX")
trap 'rm -rf "$T"' EXIT
source "$(dirname "$0")/../lib/cli_assert.sh"
shopt -s nullglob
files=("$SRC/README.md" "$SRC"/docs/*.md)
[ "${#files[@]}" -ge 2 ] || fail "no docs/*.md"
python3 - "${files[@]}" >"$T/bad" <<'PY'
import os, re, sys
link = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)')

for path in sys.argv[1:]:
    fence = False
    for no, line in enumerate(open(path, encoding="utf-8"), 1):
        if line.lstrip().startswith("```"):
            fence = not fence
            continue
        if fence:
            continue
        line = re.sub(r"`[^`]*`", "", line)  # inline code
        for target in link.findall(line):

            if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith("#"):
                continue
            rel = target.split("#", 1)[0]
            full = os.path.normpath(os.path.join(os.path.dirname(path), rel))
            if not os.path.exists(full):
                print(f"{os.path.relpath(path)}:{no}: dead link {target}")
PY
if [ -s "$T/bad" ]; then
    cat "$T/bad" >&2
    fail "dead relative links"
fi
ok
# README keeps its map: every docs/*.md is linked from README.md
for f in "$SRC"/docs/*.md; do
    grep -qF "(docs/$(basename "$f"))" "$SRC/README.md" || fail "README.md does not link docs/$(basename "$f")"
    ok
done
for s in "## Quick start" "## Guides" "## Folder layout"; do
    grep -qx "$s" "$SRC/README.md" || fail "README.md lost '$s'"
    ok
done
echo "test_links: ok ($CHECKS checks)"
