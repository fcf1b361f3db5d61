#!/usr/bin/env bash
# tests/windows/smoke.sh - proves the Windows x64 toolchain: cross-builds
# tests/windows/smoke.c against the cached libraries (./build.sh windows-deps)
# with cmake/mingw-w64-x86_64.cmake, then runs it under Wine in a prefix of
# its own, with no display. Prints the libraries' versions and "OK".
# cmocka_smoke.c shows the same for cmocka, which the unit tests will use.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TOOLS=${EXCHANGEMFA_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/exchangemfa/tools}
DEPS=${EM_WIN64_DEPS:-$TOOLS/win64}
BUILD=$ROOT/build/win64-smoke

[ -d "$DEPS/pkgconfig" ] || { echo "smoke.sh: no Windows libraries in $DEPS: run ./build.sh windows-deps" >&2; exit 1; }
command -v wine >/dev/null || { echo "smoke.sh: wine is missing: run ./build.sh windows-deps" >&2; exit 1; }

nice -n 19 cmake -S "$ROOT/tests/windows" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/mingw-w64-x86_64.cmake" -DEM_WIN64_DEPS="$DEPS" >/dev/null
nice -n 19 cmake --build "$BUILD" -j2 >/dev/null

# A prefix of our own, kept in the tools folder (the first run creates it in
# some seconds). No Mono or Gecko: console programs need neither, and their
# installers would want a window. Console programs need no display.
export WINEARCH=win64 WINEPREFIX=${WINEPREFIX:-$TOOLS/wine64-prefix} WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY WAYLAND_DISPLAY
trap 'wineserver -k 2>/dev/null || true' EXIT   # the wineserver of this prefix only
[ -d "$WINEPREFIX" ] || wineboot --init >/dev/null 2>&1
wine "$BUILD/cmocka_smoke.exe"
wine "$BUILD/smoke.exe"
