#!/usr/bin/env bash
# tests/run.sh - every test suite, one summary line at the end.
#
# Called by `./build.sh test` (which installs and builds first). Suites:
#   unit     cmocka unit tests + fuzz corpus replays (ctest, normal build)
#   asan     the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   winunit  the unit tests cross-built for Windows x64, run under Wine
#            (skipped, saying why, without wine or the Windows libraries)
#   emulator the emulator's own node:test suite
#   peers    conformance: MSAL against the emulator, the helper against oidc-provider
#   pester   the module's Pester suite against the real helper and emulator;
#            first `./build.sh package` (static libraries cached in the tools
#            folder), whose package Package.Tests.ps1 installs and runs
# The last line is "N passed, N failed"; the exit code is non-zero on any failure.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PWSH=${PWSH:-pwsh}
LOGS="$ROOT/build/test-logs"
mkdir -p "$LOGS"

passed=0
failed=0
broken=()   # suites that failed to run at all

count() {  # count <suite> <passed> <failed>
    printf '%-9s %s passed, %s failed\n' "$1" "$2" "$3"
    passed=$((passed + $2))
    failed=$((failed + $3))
}

# ctest prints "NN% tests passed, F tests failed out of T".
run_ctest() {  # run_ctest <suite> <build dir> [cmake args...]
    local suite=$1 dir=$2 log="$LOGS/$1.log"
    shift 2
    if ! { cmake -S "$ROOT" -B "$dir" "$@" && cmake --build "$dir" --parallel 2; } >"$log" 2>&1; then
        echo "$suite: build failed (see $log)"; tail -20 "$log"; broken+=("$suite"); return
    fi
    (cd "$dir" && ctest --output-on-failure --timeout 300) >>"$log" 2>&1
    local line total bad
    line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1)
    if [ -z "$line" ]; then
        echo "$suite: ctest printed no summary (see $log)"; broken+=("$suite"); return
    fi
    bad=$(sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/' <<<"$line")
    total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
    [ "$bad" -eq 0 ] || grep -E '(Failed|\*\*\*)' "$log" | tail -20
    count "$suite" $((total - bad)) "$bad"
}

# Wine in a prefix of its own under build/, no display; the toolchain file
# runs each test through wine (CMAKE_CROSSCOMPILING_EMULATOR).
run_winunit() {
    local deps=${EM_WIN64_DEPS:-${EXCHANGEMFA_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/exchangemfa/tools}/win64}
    if ! command -v wine >/dev/null || [ ! -d "$deps/pkgconfig" ]; then
        echo "winunit: skipped (needs wine and the Windows libraries: ./build.sh windows-deps)"; return
    fi
    WINEARCH=win64 WINEPREFIX="$ROOT/build/wine-prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" \
        DISPLAY= WAYLAND_DISPLAY= run_ctest winunit "$ROOT/build/win64" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/mingw-w64-x86_64.cmake" -DEM_WIN64_DEPS="$deps"
    WINEPREFIX="$ROOT/build/wine-prefix" wineserver -k 2>/dev/null || true
}

run_node_tests() {  # run_node_tests <suite> <folder>
    local suite=$1 log="$LOGS/$1.log"
    node --test --test-reporter=tap "$2" >"$log" 2>&1
    local pass fail
    pass=$(grep -E '^# pass [0-9]+' "$log" | awk '{print $3}')
    fail=$(grep -E '^# fail [0-9]+' "$log" | awk '{print $3}')
    if [ -z "$pass" ] || [ -z "$fail" ]; then
        echo "$suite: node printed no summary (see $log)"; tail -20 "$log"; broken+=("$suite"); return
    fi
    [ "$fail" -eq 0 ] || grep -E '^not ok' "$log" | head -20
    count "$suite" "$pass" "$fail"
}

# The conformance peers (MSAL, oidc-provider) come from npm, pinned by the
# lock file; installed once, again only when the lock file changes.
install_peers() {
    local peers="$ROOT/tests/peers"
    [ -f "$peers/node_modules/.package-lock.json" ] && \
        [ ! "$peers/package-lock.json" -nt "$peers/node_modules/.package-lock.json" ] && return 0
    npm ci --prefix "$peers" --no-audit --no-fund >"$LOGS/peers-install.log" 2>&1
}

run_pester() {
    local log="$LOGS/pester.log"
    PSModulePath="${PESTER_MODULES:-}" "$PWSH" -NoProfile -NoLogo -File "$ROOT/tests/pester/Invoke-Tests.ps1" >"$log" 2>&1
    local line
    line=$(grep -E '^Pester: [0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
    if [ -z "$line" ]; then
        echo "pester: no summary (see $log)"; tail -30 "$log"; broken+=(pester); return
    fi
    grep -E '^\s*\[-\]' "$log" | head -30
    count pester "$(awk '{print $2}' <<<"$line")" "$(awk '{print $4}' <<<"$line")"
}

run_ctest unit "$ROOT/build/native" -DCMAKE_BUILD_TYPE=RelWithDebInfo
run_ctest asan "$ROOT/build/asan" -DCMAKE_BUILD_TYPE=Debug -DEM_SANITIZE=ON
run_winunit
run_node_tests emulator "$ROOT/tests/emulator/"
run_node_tests catalogue "$ROOT/tools/catalogue/test/"
if install_peers; then
    run_node_tests peers "$ROOT/tests/peers/"
else
    echo "peers: npm ci failed (see $LOGS/peers-install.log)"; broken+=(peers)
fi
if ! "$ROOT/build.sh" package >"$LOGS/package.log" 2>&1; then
    echo "package: build failed (see $LOGS/package.log)"; tail -20 "$LOGS/package.log"; broken+=(package)
fi
run_pester

if [ ${#broken[@]} -gt 0 ]; then
    echo "suites that did not run: ${broken[*]}"
    failed=$((failed + ${#broken[@]}))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
