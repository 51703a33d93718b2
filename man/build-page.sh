#!/bin/sh
# build-page.sh SCDOC SRC OUT GZ - one man page: scdoc, tidy.awk, gzip -9n.
set -eu
"$1" <"$2" | awk -f "$(dirname "$0")/tidy.awk" >"$3.tmp"
mv "$3.tmp" "$3"
gzip -9n -c "$3" >"$4"
