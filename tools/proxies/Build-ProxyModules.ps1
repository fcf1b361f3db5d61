# Generates the proxy modules (module/Commands) from the catalogue, with the
# generator the module itself carries (module/Private/ProxyCommands.ps1).
# build.sh runs it when the catalogue or the generator changed.
#
#   pwsh -NoProfile -File tools/proxies/Build-ProxyModules.ps1 [-CatalogPath x.json] [-Destination dir]
param(
    [string] $CatalogPath = (Join-Path $PSScriptRoot '../../module/Data/ExchangeCommands.json'),
    [string] $Destination = (Join-Path $PSScriptRoot '../../module/Commands')
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 1.0
$root = Join-Path $PSScriptRoot '../..'
# The generator, and the compiled types it shares with the module (built first).
$null = [System.Reflection.Assembly]::LoadFrom([System.IO.Path]::GetFullPath((Join-Path $root 'module/bin/ExchangeMfa.Types.dll')))
. (Join-Path $root 'module/Private/ProxyCommands.ps1')
$version = (Import-PowerShellDataFile (Join-Path $root 'ExchangeMfa.psd1')).ModuleVersion

# Written beside the destination, then swapped in: a failed run leaves the
# previous modules whole.
$Destination = [System.IO.Path]::GetFullPath($Destination)
$staging = "$Destination.new"
Remove-Item -LiteralPath $staging -Recurse -Force -ErrorAction Ignore
$watch = [System.Diagnostics.Stopwatch]::StartNew()
$made = Export-ExchangeProxyModule -CatalogPath $CatalogPath -Destination $staging -ModuleVersion $version
Remove-Item -LiteralPath $Destination -Recurse -Force -ErrorAction Ignore
Move-Item -LiteralPath $staging -Destination $Destination
'{0} proxy commands in {1} modules under {2} ({3:N1} s)' -f $made.Commands, $made.Groups, $Destination, $watch.Elapsed.TotalSeconds
