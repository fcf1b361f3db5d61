#!/usr/bin/env bash
# build.sh - one command to set up, build, demo and test ExchangeMfa.
#
#   ./build.sh          install what is missing, build the helper into module/bin
#   ./build.sh demo     ... then sign in to the local emulator and list 5 mailboxes
#   ./build.sh test     ... then run every test (ends with "N passed, N failed")
#   ./build.sh bench    ... then run every bench/*.ps1 (they print figures)
#   ./build.sh tools    install PowerShell and Pester only, print where they live
#   ./build.sh windows-deps  cross-build the Windows x64 libraries once (tools/windows/build-deps.sh)
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

build_helper() {
    say "building the helper"
    cmake -S "$ROOT" -B "$ROOT/build/native" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$ROOT/build/native" --parallel 2 >/dev/null
    [ -x "$ROOT/module/bin/exchangemfa-helper" ] || { echo "build.sh: helper was not built" >&2; exit 1; }
}

# The module's compiled parts (module/Types/*.cs: typed values, the object
# reader, the helper's stderr guard), compiled once by PowerShell itself into
# module/bin, optimized (Add-Type's default is a debug build); rebuilt when a
# source is newer.
build_types() {
    local dll="$ROOT/module/bin/ExchangeMfa.Types.dll" src
    for src in "$ROOT"/module/Types/*.cs; do
        [ "$dll" -nt "$src" ] && continue
        say "building the module's types"
        rm -f "$dll"
        "$TOOLS/pwsh/pwsh" -NoProfile -NoLogo -Command "Add-Type -Path (Get-Item '$ROOT/module/Types/*.cs').FullName -OutputAssembly '$dll' -OutputType Library -CompilerOptions '-optimize+'" ||
            { echo "build.sh: the module's types were not built" >&2; exit 1; }
        return 0
    done
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

setup() {
    install_debian_packages
    install_tools
    build_helper
    build_types
    build_proxies
}

main() {
    local cmd=${1:-build}
    case "$cmd" in
        build) setup ;;
        demo) setup; PSModulePath="$TOOLS/modules" "$TOOLS/pwsh/pwsh" -NoProfile -NoLogo -File "$ROOT/tests/demo.ps1" ;;
        test) setup; PWSH="$TOOLS/pwsh/pwsh" PESTER_MODULES="$TOOLS/modules" "$ROOT/tests/run.sh" ;;
        bench) setup; install_debian_packages "${BENCH_PACKAGES[@]}"
            for script in "$ROOT"/bench/*.ps1; do
                say "bench/$(basename "$script")"
                PSModulePath="$TOOLS/modules" "$TOOLS/pwsh/pwsh" -NoProfile -NoLogo -File "$script"
            done ;;
        tools) install_tools; tool_env ;;
        windows-deps) EXCHANGEMFA_TOOLS="$TOOLS" "$ROOT/tools/windows/build-deps.sh" ;;
        *) echo "usage: ./build.sh [build|demo|test|bench|tools|windows-deps]" >&2; exit 2 ;;
    esac
}

main "$@"
