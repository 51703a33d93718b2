#!/bin/bash
# make_seeds.sh - makes the seed corpora of fuzz_cert and fuzz_revocation
# from a real run of the CLI: a throw-away authority enrols a few nodes and
# revokes some of them; each seed is the authority's public key (32 raw
# bytes, decoded from authority.pub) followed by the bytes of a real .cert
# or `revoked` file. Public material only: no secret key is ever written to
# the corpus. Usage: make_seeds.sh BUILD_DIR  (writes tests/fuzz/corpus/
# cert and corpus/revocation next to this script). Layer: tests (fuzz).
set -euo pipefail
BUILD=${1:?usage: make_seeds.sh BUILD_DIR}
P="$BUILD/passerelle"
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d /tmp/pl-seeds-XXXXXX)
trap 'rm -rf "$T"' EXIT
"$P" authority init --home "$T/A" --network sn >/dev/null
"$P" authority init --home "$T/B" --network ml >/dev/null
enroll() { # authority home name sector [extra...]
    local a=$1 n=$2 s=$3
    shift 3
    "$P" init --home "$T/$n" >/dev/null
    "$P" authority enroll --home "$T/$a" --node "$T/$n" --name "$n" \
        --sector "$s" --country SN "$@" >/dev/null
}
enroll A clinic health --region dakar --display-name "Hopital Fann" \
    --organisation "Ministry of Health"
enroll A school education --region thies
enroll A agency agency --display-name "Agence de reintegration"
enroll A housing housing --days 1 --not-before 2020-01-01
enroll B other health --region bamako
"$P" authority revoke --home "$T/A" --serial 2 >/dev/null
cp "$T/A/revoked" "$T/revoked-1"
"$P" authority revoke --home "$T/A" --serial 3 >/dev/null
"$P" authority revoke --home "$T/A" --serial 4 >/dev/null
cp "$T/A/revoked" "$T/revoked-3"
"$P" authority revoke --home "$T/B" --serial 1 >/dev/null
pk() { # Z85 authority.pub -> 32 raw bytes
    python3 - "$1" <<'PY'
import sys
alpha = ("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
         ".-:+=^!/*?&<>()[]{}@%$#")
text = open(sys.argv[1]).read().strip()
out = bytearray()
for i in range(0, len(text), 5):
    v = 0
    for ch in text[i:i + 5]:
        v = v * 85 + alpha.index(ch)
    out += v.to_bytes(4, "big")
sys.stdout.buffer.write(bytes(out))
PY
}
seed() { # out key-file body-file [truncate-to]
    mkdir -p "$(dirname "$1")"
    { pk "$2"; if [ -n "${4:-}" ]; then head -c "$4" "$3"; else cat "$3"; fi; } >"$1"
}
C="$HERE/corpus/cert"
R="$HERE/corpus/revocation"
rm -rf "$C" "$R"
seed "$C/clinic.bin" "$T/A/authority.pub" "$T/clinic/node.cert"
seed "$C/school.bin" "$T/A/authority.pub" "$T/school/node.cert"
seed "$C/agency.bin" "$T/A/authority.pub" "$T/agency/node.cert"
seed "$C/expired.bin" "$T/A/authority.pub" "$T/housing/node.cert"
seed "$C/other_network.bin" "$T/B/authority.pub" "$T/other/node.cert"
seed "$C/bad_wrong_authority.bin" "$T/B/authority.pub" "$T/clinic/node.cert"
seed "$C/bad_truncated.bin" "$T/A/authority.pub" "$T/clinic/node.cert" 100
seed "$R/one.bin" "$T/A/authority.pub" "$T/revoked-1"
seed "$R/three.bin" "$T/A/authority.pub" "$T/revoked-3"
seed "$R/other_network.bin" "$T/B/authority.pub" "$T/B/revoked"
seed "$R/bad_wrong_authority.bin" "$T/B/authority.pub" "$T/revoked-3"
seed "$R/bad_truncated.bin" "$T/A/authority.pub" "$T/revoked-3" 40
head -c 32 /dev/zero >"$C/bad_key_only.bin"
cp "$C/bad_key_only.bin" "$R/bad_key_only.bin"
ls "$C" "$R"
