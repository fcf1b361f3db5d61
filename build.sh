#!/usr/bin/env bash
# build.sh - one command to set up, build, demo and test ExchangeMfa.
#
#   ./build.sh          install what is missing, build the helper into module/bin
#   ./build.sh demo     ... then sign in to the local emulator and list 5 mailboxes
#   ./build.sh test     ... then run every test (ends with "N passed, N failed")
#   ./build.sh bench    ... then run every bench/*.ps1 (they print figures)
#   ./build.sh tools    install PowerShell and Pester only, print where they live
#   ./build.sh windows-deps  cross-build the Windows x64 libraries once (tools/windows/build-deps.sh)
#   ./build.sh windows  ... then cross-build module/bin/win-x64/exchangemfa-helper.exe and the unit tests
#   ./build.sh package  ... then build/package/: the module with its linux-x64 and win-x64 helpers,
#                       as a PowerShell Gallery package (.nupkg) in build/package/repo (docs/package.md)
#   ./build.sh fuzz [SECONDS]  run every tests/fuzz target with libFuzzer + ASan/UBSan
#                       for SECONDS each (default 60); prints execs, coverage, findings
#
# Pinned tools (PowerShell as a .NET tool, Pester from NuGet) go to a per-user
# folder, $EXCHANGEMFA_TOOLS or ~/.cache/exchangemfa/tools, so the next clone
# reuses them. Debian packages are installed with apt-get when missing.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOOLS=${EXCHANGEMFA_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/exchangemfa/tools}
PWSH_VERSION=7.6.9
PESTER_VERSION=5.7.1
DEBIAN_PACKAGES=(build-essential cmake pkg-config openssl nodejs
    libcurl4-openssl-dev libssl-dev libyajl-dev libmicrohttpd-dev libcmocka-dev)
# macOS (built from source, untested here): Homebrew's names for the same.
HOMEBREW_PACKAGES=(cmake pkg-config curl openssl@3 yajl libmicrohttpd cmocka node)
# Only for ./build.sh bench: curl (a peer) and rsvg-convert (the plots'
# SVG to PNG).
BENCH_PACKAGES=(curl time librsvg2-bin)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

install_debian_packages() {
    local missing=() pkg
    for pkg in "${DEBIAN_PACKAGES[@]}" "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing Debian packages: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Homebrew installs curl and openssl@3 keg-only: pkg-config finds them
# through PKG_CONFIG_PATH under `brew --prefix <formula>`.
install_homebrew_packages() {
    command -v brew >/dev/null || { echo "build.sh: on macOS, install Homebrew (https://brew.sh) first" >&2; exit 1; }
    local missing=() pkg formula
    for pkg in "${HOMEBREW_PACKAGES[@]}"; do
        brew list --versions "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing Homebrew packages: ${missing[*]}"
        brew install "${missing[@]}"
    fi
    for formula in curl openssl@3; do
        PKG_CONFIG_PATH="$(brew --prefix "$formula")/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
    done
    export PKG_CONFIG_PATH
}

install_system_packages() {
    if [ "$(uname -s)" = Darwin ]; then install_homebrew_packages; else install_debian_packages; fi
}

install_powershell() {
    [ -x "$TOOLS/pwsh/pwsh" ] && return 0
    command -v dotnet >/dev/null || { echo "build.sh: the .NET SDK (dotnet) is needed to install PowerShell" >&2; exit 1; }
    say "installing PowerShell $PWSH_VERSION into $TOOLS/pwsh"
    dotnet tool install PowerShell --version "$PWSH_VERSION" --tool-path "$TOOLS/pwsh" >/dev/null
}

# Pester comes from NuGet through the ordinary client: a restore of a
# PackageDownload into the user's NuGet folder, then its module folder is
# copied to where PSModulePath will point.
install_pester() {
    local dest="$TOOLS/modules/Pester/$PESTER_VERSION"
    [ -f "$dest/Pester.psd1" ] && return 0
    say "installing Pester $PESTER_VERSION into $TOOLS/modules"
    local proj
    proj=$(mktemp -d)
    cat >"$proj/tools.csproj" <<EOF
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><TargetFramework>net10.0</TargetFramework></PropertyGroup>
  <ItemGroup><PackageDownload Include="Pester" Version="[$PESTER_VERSION]" /></ItemGroup>
</Project>
EOF
    dotnet restore "$proj/tools.csproj" --packages "$proj/packages" >/dev/null
    mkdir -p "$dest"
    cp -r "$proj/packages/pester/$PESTER_VERSION/tools/." "$dest/"
    rm -rf "$proj"
}

# .NET's runtime identifier of this machine, the module/bin/<rid>/ the
# module takes its helper from (linux-x64, osx-arm64, ...).
helper_platform() {
    local os arch
    case "$(uname -s)" in Darwin) os=osx ;; *) os=linux ;; esac
    case "$(uname -m)" in x86_64 | amd64) arch=x64 ;; aarch64 | arm64) arch=arm64 ;; *) arch=$(uname -m) ;; esac
    echo "$os-$arch"
}

build_helper() {
    say "building the helper"
    cmake -S "$ROOT" -B "$ROOT/build/native" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$ROOT/build/native" --parallel 2 >/dev/null
    [ -x "$ROOT/module/bin/$(helper_platform)/exchangemfa-helper" ] || { echo "build.sh: helper was not built" >&2; exit 1; }
}

# The module's compiled parts (module/Types/*.cs: typed values, the object
# reader, the helper's stderr guard), built by the .NET SDK for .NET 6 against
# PowerShell Standard (tools/types: loads in PowerShell 7.2 and later),
# optimized, into module/bin; rebuilt when a source is newer.
build_types() {
    local dll="$ROOT/module/bin/ExchangeMfa.Types.dll" src
    for src in "$ROOT"/module/Types/*.cs "$ROOT"/module/Types/Commands/*.cs "$ROOT/tools/types/ExchangeMfa.Types.csproj"; do
        [ "$dll" -nt "$src" ] && continue
        say "building the module's types"
        rm -f "$dll"
        dotnet build "$ROOT/tools/types/ExchangeMfa.Types.csproj" -c Release -o "$ROOT/build/types/out" \
            --nologo -v quiet >"$ROOT/build/types.log" 2>&1 ||
            { tail -20 "$ROOT/build/types.log" >&2; echo "build.sh: the module's types were not built" >&2; exit 1; }
        mkdir -p "$ROOT/module/bin"
        cp "$ROOT/build/types/out/ExchangeMfa.Types.dll" "$dll"
        return 0
    done
}

# The module's script functions (module/Private/*.ps1) in one generated file,
# module/Bundle/ExchangeMfa.Runtime.ps1 (docs/decisions.md, "Compiled
# commands"), parsed when a command first needs them, with `function Name`
# made `function script:Name` so that they land in the module's scope. Made
# on every build: it takes milliseconds, and a removed source goes too. It is
# written beside and renamed, so a pwsh importing meanwhile reads a whole file.
build_module() {
    mkdir -p "$ROOT/module/Bundle"
    write_bundle "$ROOT/module/Bundle/ExchangeMfa.Runtime.ps1" 's/^function \([A-Za-z]\)/function script:\1/' "$ROOT"/module/Private/*.ps1
    # Nothing else: the package ships the folder as it is.
    find "$ROOT/module/Bundle" -type f ! -name ExchangeMfa.Runtime.ps1 -delete
}

write_bundle() {
    local bundle="$1" rewrite="$2" src
    shift 2
    {
        echo "# Generated by build.sh from the files named below: do not edit."
        # Catches unset variables; helper messages have optional fields, so
        # reading an absent property must stay legal (it yields $null).
        echo "Set-StrictMode -Version 1.0"
        for src in "$@"; do
            printf '\n# ---- %s\n\n' "${src#"$ROOT"/}"
            sed -e "$rewrite" "$src"
        done
    } >"$bundle.new"
    mv -f "$bundle.new" "$bundle"
}

# Prints the environment that puts our PowerShell and Pester first.
tool_env() {
    echo "PWSH=$TOOLS/pwsh/pwsh"
    echo "PSModulePath=$TOOLS/modules"
}

install_tools() {
    mkdir -p "$TOOLS"
    install_powershell
    install_pester
}

# The proxy modules (module/Commands) from the catalogue, only when the
# catalogue or the generator is newer than the last generation.
build_proxies() {
    local stamp="$ROOT/module/Commands/CommandNames.txt" source
    for source in "$ROOT/module/Data/ExchangeCommands.json" "$ROOT/module/Private/ProxyCommands.ps1" \
        "$ROOT/tools/proxies/Build-ProxyModules.ps1"; do
        if [ ! -f "$stamp" ] || [ "$source" -nt "$stamp" ]; then
            say "generating the proxy commands"
            "$TOOLS/pwsh/pwsh" -NoProfile -NoLogo -File "$ROOT/tools/proxies/Build-ProxyModules.ps1" >/dev/null
            return 0
        fi
    done
}

# CMake keeps what pkg-config said when a build folder was first
# configured: one configured before the cached libraries changed (zlib
# added, say) would link against the old list. Its cache goes when a .pc
# file of the libraries is newer than it.
forget_stale_configuration() {
    local build=$1 pkgconfig=$2
    [ -f "$build/CMakeCache.txt" ] || return 0
    if [ -n "$(find "$pkgconfig" -name '*.pc' -newer "$build/CMakeCache.txt" -print -quit)" ]; then
        rm -f "$build/CMakeCache.txt"
    fi
}

# The package's Linux helper: the same sources linked against static
# OpenSSL, zlib, curl, yajl and libmicrohttpd (tools/windows/build-deps.sh
# linux64, cached in the tools folder), glibc shared; its own build folder,
# so the dev build's helper in module/bin is left alone. pkg-config sees only those
# libraries, so nothing of the machine's -dev packages is linked.
build_package_helper() {
    EXCHANGEMFA_TOOLS="$TOOLS" "$ROOT/tools/windows/build-deps.sh" linux64 >/dev/null
    say "building the package's Linux helper against the static libraries"
    local build="$ROOT/build/package-linux-x64"
    forget_stale_configuration "$build" "$TOOLS/linux64/pkgconfig"
    export PKG_CONFIG_LIBDIR="$TOOLS/linux64/pkgconfig" PKG_CONFIG_PATH=
    nice -n 19 cmake -S "$ROOT" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEM_MODULE_COPY=OFF \
        -DPKG_CONFIG_ARGN=--static >/dev/null
    nice -n 19 cmake --build "$build" --target exchangemfa-helper --parallel 2 >/dev/null
    unset PKG_CONFIG_LIBDIR PKG_CONFIG_PATH
}

# Stages build/package/ExchangeMfa with both helpers (the Windows one from
# ./build.sh windows) and publishes it to build/package/repo.
build_package() {
    build_package_helper
    main windows
    "$TOOLS/pwsh/pwsh" -NoProfile -NoLogo -File "$ROOT/tools/package/Build-Package.ps1" \
        -LinuxHelper "$ROOT/build/package-linux-x64/native/exchangemfa-helper" \
        -WindowsHelper "$ROOT/module/bin/win-x64/exchangemfa-helper.exe"
}

setup() {
    install_system_packages
    install_tools
    build_helper
    build_types
    build_module
    build_proxies
    build_help
}

# The commands' help: compiled cmdlets read MAML, made from docs/commands/*.md
# and the commands' own parameter metadata (docs/decisions.md, "Compiled
# commands"); rebuilt when a source is newer.
build_help() {
    local xml="$ROOT/module/en-US/ExchangeMfa.Types.dll-Help.xml" src
    for src in "$ROOT"/docs/commands/*.md "$ROOT/module/bin/ExchangeMfa.Types.dll" "$ROOT/tools/help/Build-CommandHelp.ps1"; do
        [ "$xml" -nt "$src" ] && continue
        say "building the commands' help"
        "$TOOLS/pwsh/pwsh" -NoProfile -NoLogo -File "$ROOT/tools/help/Build-CommandHelp.ps1" \
            -Manifest "$ROOT/ExchangeMfa.psd1" -Source "$ROOT/docs/commands" -OutFile "$xml"
        return 0
    done
}

# The Windows x64 helper and the unit tests, cross-built with mingw-w64
# against the cached libraries (./build.sh windows-deps), statically linked.
build_windows_helper() {
    say "cross-building the Windows helper and unit tests"
    forget_stale_configuration "$ROOT/build/win64" "$TOOLS/win64/pkgconfig"
    nice -n 19 cmake -S "$ROOT" -B "$ROOT/build/win64" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/mingw-w64-x86_64.cmake" -DEM_WIN64_DEPS="$TOOLS/win64" >/dev/null
    nice -n 19 cmake --build "$ROOT/build/win64" --parallel 2 >/dev/null
    [ -f "$ROOT/module/bin/win-x64/exchangemfa-helper.exe" ] || { echo "build.sh: the Windows helper was not built" >&2; exit 1; }
}

# Every tests/fuzz/fuzz_<target>.c, built with clang (EM_FUZZ=ON) into
# build/fuzz, runs for $1 seconds on a working copy of its corpus (the
# committed seeds stay as they are). Inputs go up to the real limits: 1 MiB
# request lines and pages. A crash, leak or sanitizer report leaves its
# input in build/fuzz/findings/<target>/ and makes the run fail.
run_fuzz() {
    local seconds=${1:-60} out="$ROOT/build/fuzz" failed=0 src target log execs cov findings
    DEBIAN_PACKAGES+=(clang libclang-rt-dev)   # libFuzzer and the sanitizers' runtimes
    install_debian_packages
    say "building the fuzz targets (clang, libFuzzer, ASan/UBSan)"
    CC=clang cmake -S "$ROOT" -B "$out" -DEM_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$out" --parallel 2 --target $(for src in "$ROOT"/tests/fuzz/fuzz_*.c; do basename "$src" .c; done) >/dev/null
    printf '%-18s %12s %8s %9s\n' target execs cov findings
    for src in "$ROOT"/tests/fuzz/fuzz_*.c; do
        target=$(basename "$src" .c)
        target=${target#fuzz_}
        log="$out/logs/$target.log"
        mkdir -p "$out/corpus/$target" "$out/findings/$target" "$out/logs"
        cp -n "$ROOT/tests/fuzz/corpus/$target"/* "$out/corpus/$target/" 2>/dev/null || true
        ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
            "$out/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -max_len=1048576 \
            -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
            -artifact_prefix="$out/findings/$target/" "$out/corpus/$target" >"$log" 2>&1 || true
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
        findings=$(find "$out/findings/$target" -type f | wc -l)
        printf '%-18s %12s %8s %9s\n' "$target" "${execs:-?}" "${cov:-?}" "$findings"
        [ "$findings" -eq 0 ] && [ -n "$execs" ] || failed=1
    done
    [ "$failed" -eq 0 ] || { echo "build.sh: fuzzing found something: build/fuzz/findings, build/fuzz/logs" >&2; exit 1; }
}

main() {
    local cmd=${1:-build}
    case "$cmd" in
        build) setup ;;
        demo) setup; PSModulePath="$TOOLS/modules" "$TOOLS/pwsh/pwsh" -NoProfile -NoLogo -File "$ROOT/tests/demo.ps1" ;;
        test) setup; PWSH="$TOOLS/pwsh/pwsh" PESTER_MODULES="$TOOLS/modules" "$ROOT/tests/run.sh" ;;
        bench) setup; install_debian_packages "${BENCH_PACKAGES[@]}"
            # msal-node, the token path's peer in bench/signin.ps1, as tests/peers pins it.
            [ -d "$ROOT/tests/peers/node_modules/@azure/msal-node" ] ||
                npm ci --prefix "$ROOT/tests/peers" --no-audit --no-fund >/dev/null
            for script in "$ROOT"/bench/*.ps1; do
                say "bench/$(basename "$script")"
                PSModulePath="$TOOLS/modules" "$TOOLS/pwsh/pwsh" -NoProfile -NoLogo -File "$script"
            done ;;
        tools) install_tools; tool_env ;;
        windows-deps) EXCHANGEMFA_TOOLS="$TOOLS" "$ROOT/tools/windows/build-deps.sh" ;;
        windows) EXCHANGEMFA_TOOLS="$TOOLS" "$ROOT/tools/windows/build-deps.sh"; build_windows_helper ;;
        package) setup; build_package ;;
        fuzz) run_fuzz "${2:-60}" ;;
        *) echo "usage: ./build.sh [build|demo|test|bench|tools|windows-deps|windows|package|fuzz [SECONDS]]" >&2; exit 2 ;;
    esac
}

main "$@"
