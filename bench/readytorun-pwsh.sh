#!/usr/bin/env bash
# bench/readytorun-pwsh.sh - a copy of the tools folder's pwsh whose
# PowerShell assemblies are compiled ahead (ReadyToRun), as Microsoft's
# release packages are; the .NET tool package that build.sh installs ships
# IL only, so every method PowerShell runs is compiled at run time there.
# For benches only (docs/benchmarks.md, "With a ReadyToRun pwsh"); the
# tests keep the installed pwsh. Prints the copy's pwsh; made once.
#
#   bench/readytorun-pwsh.sh            -> .../tools/pwsh-readytorun/pwsh
#   "$(bench/readytorun-pwsh.sh)" -NoProfile -File bench/connect.ps1
set -euo pipefail

TOOLS=${EXCHANGEMFA_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/exchangemfa/tools}
SOURCE=$TOOLS/pwsh
COPY=$TOOLS/pwsh-readytorun
[ -x "$SOURCE/pwsh" ] || { echo "readytorun-pwsh.sh: run ./build.sh first (no $SOURCE/pwsh)" >&2; exit 1; }
if [ -f "$COPY/.done" ]; then echo "$COPY/pwsh"; exit 0; fi

# crossgen2 comes from NuGet for the runtime's own version; the SDK picks
# the package version, so it is named nowhere here.
runtime=$(dotnet --list-runtimes | awk '/^Microsoft.NETCore.App /{print $2}' | sort -V | tail -1)
framework=$(dotnet --list-runtimes | awk -v v="$runtime" '$1 == "Microsoft.NETCore.App" && $2 == v {gsub(/[\[\]]/, "", $3); print $3 "/" v}')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/crossgen.csproj" <<EOF
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><TargetFramework>net${runtime%%.*}.0</TargetFramework></PropertyGroup>
  <ItemGroup><PackageDownload Include="Microsoft.NETCore.App.Crossgen2.linux-x64" Version="[$runtime]" /></ItemGroup>
</Project>
EOF
dotnet restore "$work/crossgen.csproj" --packages "$work/packages" >/dev/null
crossgen2=$(find "$work/packages" -type f -name crossgen2 -path '*tools*' | head -1)
[ -x "$crossgen2" ] || { echo "readytorun-pwsh.sh: crossgen2 $runtime was not restored" >&2; exit 1; }

rm -rf "$COPY.new"
cp -a "$SOURCE" "$COPY.new"
assemblies=$(dirname "$(find "$COPY.new" -path '*/unix/System.Management.Automation.dll' | head -1)")
for name in System.Management.Automation Microsoft.PowerShell.ConsoleHost Microsoft.PowerShell.Commands.Utility \
    Microsoft.PowerShell.Commands.Management Microsoft.PowerShell.Security Newtonsoft.Json pwsh; do
    nice -n 10 "$crossgen2" "$assemblies/$name.dll" -o "$work/$name.dll" -r "$framework/*.dll" -r "$assemblies/*.dll" \
        --targetos linux --targetarch x64 -O >/dev/null
    mv "$work/$name.dll" "$assemblies/$name.dll"
done
rm -rf "$COPY"
mv "$COPY.new" "$COPY"
touch "$COPY/.done"
echo "$COPY/pwsh"
