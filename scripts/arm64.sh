#!/bin/bash
# scripts/arm64.sh - cross build Passerelle for arm64 (a Raspberry Pi-class
# node) on a Debian 12 amd64 machine, then run the unit tests under qemu
# user-mode emulation. `make test-arm64` runs it; docs/install-debian.md
# ("A small box: arm64") says what it does and how long it takes.
#
# Steps (each one timed):
#   1. packages: gcc-aarch64-linux-gnu, qemu-user-static (or qemu-user) and
#      the arm64 -dev libraries through Debian multiarch; as root they are
#      installed when missing (dpkg --add-architecture arm64, apt-get update,
#      apt-get install), otherwise the exact command is printed
#   2. configure BUILD with cmake/aarch64-linux-gnu.cmake
#   3. build the four executables, the unit tests and the fuzz replays
#   4. check every program built is an AArch64 ELF, and that each
#      executable answers --help under qemu
#   5. ctest the unit tests and fuzz replays (ctest starts them through
#      CMAKE_CROSSCOMPILING_EMULATOR, i.e. qemu-aarch64)
#
# A unit test here is a tests/<area>/test_*.c program that starts none of
# the project's executables: those would be arm64 programs run from inside
# an emulated process, which needs binfmt_misc (not there in a container).
# Shell tools of the host (protoc, sh) are fine: an emulated program's
# execve of an amd64 program runs it natively.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: scripts/arm64.sh [--build DIR] [--jobs N] [--no-install] [--list]

Cross-build Passerelle for arm64 (aarch64-linux-gnu) and run its unit tests
under qemu-aarch64. Prints how many passed; exits non-zero if a package is
missing, the build fails, or any test fails.

  --build DIR    build folder (default build-arm64)
  --jobs N       parallel build and test jobs (default: nproc)
  --no-install   never install packages; fail if one is missing
  --list         print the unit tests that would run, then exit
  --help         this text
EOF
}

root="$(cd "$(dirname "$0")/.." && pwd)"
build="build-arm64"
jobs="$(nproc 2>/dev/null || echo 2)"
install=1
list_only=0
while [ $# -gt 0 ]; do
    case "$1" in
    --build) build="${2:?--build needs a folder}"; shift 2 ;;
    --jobs) jobs="${2:?--jobs needs a number}"; shift 2 ;;
    --no-install) install=0; shift ;;
    --list) list_only=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "arm64: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done
case "$jobs" in '' | *[!0-9]* | 0) echo "arm64: --jobs wants a positive number" >&2; exit 2 ;; esac
case "$build" in /*) ;; *) build="$root/$build" ;; esac

t0=$SECONDS
step_t=$SECONDS
step() { # step NAME: print the time the previous step took, start NAME
    local now=$SECONDS
    [ -n "${step_name:-}" ] && printf 'arm64: %-10s %4d s\n' "$step_name" $((now - step_t))
    step_name="$1"
    step_t=$now
}

# ---- which tests: the unit programs, by what their source calls
# (tests/lib/pl_test.h, pl_testnet.h, pl_testnode.h start or name our
# executables; a test calling none of them runs in its own process only)
starts_ours='pl_test_bin|pl_test_spawn|pl_test_net_|pl_testnet_|pl_testnode_|PL_BIN_DIR'
unit_tests=()
for src in "$root"/tests/*/test_*.c; do
    grep -Eq "$starts_ours" "$src" && continue
    area="$(basename "$(dirname "$src")")"
    unit_tests+=("$area/$(basename "$src" .c)")
done
if [ "$list_only" = 1 ]; then
    printf '%s\n' "${unit_tests[@]}"
    exit 0
fi
[ "${#unit_tests[@]}" -gt 0 ] || { echo "arm64: no unit test found" >&2; exit 1; }

# ---- 1. packages
step packages
arm_dev="libzmq3-dev libprotobuf-c-dev liblmdb-dev libsodium-dev
libjansson-dev libcmocka-dev libmicrohttpd-dev libcurl4-gnutls-dev
libqrencode-dev libpng-dev zlib1g-dev"
host_pkgs="cmake make pkg-config protobuf-c-compiler gcc-aarch64-linux-gnu"
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=""
for p in $host_pkgs; do installed "$p" || missing="$missing $p"; done
for p in $arm_dev; do installed "$p:arm64" || missing="$missing $p:arm64"; done
qemu="$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)"
[ -n "$qemu" ] || missing="$missing qemu-user-static"
if [ -n "$missing" ]; then
    add_arch=""
    dpkg --print-foreign-architectures | grep -qx arm64 \
        || add_arch="dpkg --add-architecture arm64 && "
    cmd="${add_arch}apt-get update && apt-get install -y --no-install-recommends$missing"
    if [ "$install" = 0 ] || [ "$(id -u)" != 0 ]; then
        echo "arm64: missing packages; run as root:" >&2
        echo "  $cmd" >&2
        exit 1
    fi
    echo "arm64: installing$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    [ -n "$add_arch" ] && dpkg --add-architecture arm64
    # another apt on the machine holds the lock: wait for it, not fail
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    # shellcheck disable=SC2086 # a list of package names
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
        $missing >/dev/null
    qemu="$(command -v qemu-aarch64-static || command -v qemu-aarch64)"
fi

# ---- 2. configure
mkdir -p "$build"
step configure
cmake -S "$root" -B "$build" \
    -DCMAKE_TOOLCHAIN_FILE="$root/cmake/aarch64-linux-gnu.cmake" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPL_TEST_BUILD=ON >"$build/arm64-configure.log" 2>&1 \
    || { cat "$build/arm64-configure.log" >&2; exit 1; }

# the ctest names registered in this build (a test folder outside the
# areas tests/tests.cmake globs is not one): run exactly those
registered="$(cd "$build" && ctest -N | sed -n 's/^ *Test *#[0-9]*: //p')"
run=()
for t in "${unit_tests[@]}"; do
    grep -qx "$t" <<<"$registered" && run+=("$t")
done
replays=()
while IFS= read -r t; do [ -n "$t" ] && replays+=("$t"); done \
    < <(grep -E '^fuzz/.*_replay$' <<<"$registered" || true)

# ---- 3. build
step build
exes="passerelle passerelle-broker passerelle-node passerelle-web"
targets="$exes"
for t in "${run[@]}" "${replays[@]}"; do
    case "$t" in
    fuzz/*) targets="$targets fuzz_${t#fuzz/}" ;;
    *) targets="$targets ${t#*/}" ;;
    esac
done
# shellcheck disable=SC2086 # a list of target names
cmake --build "$build" -j "$jobs" --target $targets >"$build/arm64-build.log" 2>&1 \
    || { tail -40 "$build/arm64-build.log" >&2; exit 1; }

# ---- 4. the programs are arm64, and each executable starts under qemu
step check
readelf="aarch64-linux-gnu-readelf"
command -v "$readelf" >/dev/null || readelf=readelf
for t in $targets; do
    f="$build/$t"
    m="$("$readelf" -h "$f" 2>/dev/null | sed -n 's/^ *Machine: *//p')"
    [ "$m" = "AArch64" ] || { echo "arm64: $f is not an AArch64 program ($m)" >&2; exit 1; }
done
for e in $exes; do
    "$qemu" -L / "$build/$e" --help >/dev/null 2>&1 \
        || { echo "arm64: $e --help failed under qemu" >&2; exit 1; }
done
echo "arm64: $(wc -w <<<"$targets") programs are AArch64 ELF; $exes answer --help under $(basename "$qemu")"

# ---- 5. the unit tests under qemu
step tests
regex="$(printf '^%s$|' "${run[@]}" "${replays[@]}")"
regex="${regex%|}"
rc=0
(cd "$build" && ctest -j "$jobs" --timeout 600 --output-on-failure -R "$regex") \
    >"$build/arm64-ctest.log" 2>&1 || rc=$?
grep -E '^ *[0-9]+/[0-9]+ Test' "$build/arm64-ctest.log" || true
total=$(( ${#run[@]} + ${#replays[@]} ))
passed="$(grep -cE '^ *[0-9]+/[0-9]+ Test .* Passed' "$build/arm64-ctest.log" || true)"
ran="$(grep -cE '^ *[0-9]+/[0-9]+ Test' "$build/arm64-ctest.log" || true)"
step end
echo "arm64: $passed of $total passed under qemu-aarch64" \
    "(${#run[@]} cmocka unit tests, ${#replays[@]} fuzz corpus replays; log $build/arm64-ctest.log)"
echo "arm64: total $((SECONDS - t0)) s"
if [ "$rc" != 0 ] || [ "$ran" != "$total" ] || [ "$passed" != "$total" ]; then
    sed -n '/tests failed/,$p' "$build/arm64-ctest.log" >&2
    echo "arm64: FAILED (ran $ran of $total, $passed passed)" >&2
    exit 1
fi
