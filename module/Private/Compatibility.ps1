# The opt-in compatibility module: a small module named
# ExchangeOnlineManagement that loads ExchangeMfa, for scripts that look for
# Microsoft's module by name (Get-Module -ListAvailable, Import-Module,
# #Requires -Modules). Install-/Uninstall-ExchangeMfaCompatibility write and
# remove it; docs/module.md ("Compatibility module") has the rules.

# Name and version: the commands' (module/Types/Commands/ModuleCommands.cs).
$script:CompatibilityModuleName = [ExchangeMfa.CompatibilityCommand]::ModuleName
$script:CompatibilityModuleVersion = [ExchangeMfa.CompatibilityCommand]::ModuleVersion
# The manifest key that marks the module as ExchangeMfa's, not Microsoft's.
$script:CompatibilityMarker = 'ExchangeMfaCompatibility'

function Get-UserModuleRoot {
    # The folder PowerShell 7 searches for modules of this scope.
    param([ValidateSet('CurrentUser', 'AllUsers')] [string] $Scope)
    if ($IsWindows) {
        if ($Scope -eq 'AllUsers') { return Join-Path $env:ProgramFiles 'PowerShell/Modules' }
        return Join-Path ([Environment]::GetFolderPath('MyDocuments')) 'PowerShell/Modules'
    }
    if ($Scope -eq 'AllUsers') { return '/usr/local/share/powershell/Modules' }
    $data = if ($env:XDG_DATA_HOME) { $env:XDG_DATA_HOME } else { Join-Path $HOME '.local/share' }
    Join-Path $data 'powershell/Modules'
}

function Get-ExchangeOnlineManagementManifest {
    # Every ExchangeOnlineManagement manifest in these module folders
    # (<root>/ExchangeOnlineManagement[/<version>]/ExchangeOnlineManagement.psd1),
    # each with IsCompatibility: whether it carries ExchangeMfa's marker.
    param([string[]] $Root)
    $name = $script:CompatibilityModuleName
    foreach ($folder in $Root | Where-Object { $_ } | Select-Object -Unique) {
        $base = Join-Path $folder $name
        if (-not (Test-Path -LiteralPath $base -PathType Container)) { continue }
        $candidates = @(Join-Path $base "$name.psd1") + @(Get-ChildItem -LiteralPath $base -Directory |
                ForEach-Object { Join-Path $_.FullName "$name.psd1" })
        foreach ($manifest in $candidates | Where-Object { Test-Path -LiteralPath $_ -PathType Leaf }) {
            $data = try { Import-PowerShellDataFile -LiteralPath $manifest } catch { @{} }
            [pscustomobject]@{
                Path            = $manifest
                IsCompatibility = $data.PrivateData -is [hashtable] -and $data.PrivateData.ContainsKey($script:CompatibilityMarker)
            }
        }
    }
}

function Find-RealExchangeOnlineManagement {
    # Microsoft's module (any ExchangeOnlineManagement without our marker)
    # on the module path or in the given folders: its manifest paths.
    param([string[]] $ExtraRoot)
    $roots = @($env:PSModulePath -split [IO.Path]::PathSeparator) + $ExtraRoot
    Get-ExchangeOnlineManagementManifest -Root $roots | Where-Object { -not $_.IsCompatibility } | ForEach-Object Path
}

function New-CompatibilityModuleText {
    # The manifest and root module of the compatibility module. The root
    # module imports the real ExchangeOnlineManagement instead when one is
    # installed (with a warning), so the compatibility module never hides it.
    param([Parameter(Mandatory)] [string] $ExchangeMfaManifest)
    $quoted = $ExchangeMfaManifest.Replace("'", "''")
    $manifest = @"
# Written by Install-ExchangeMfaCompatibility: ExchangeMfa's compatibility
# module, NOT Microsoft's ExchangeOnlineManagement. Remove it with
# Uninstall-ExchangeMfaCompatibility.
@{
    RootModule        = '$($script:CompatibilityModuleName).psm1'
    ModuleVersion     = '$($script:CompatibilityModuleVersion)'
    GUID              = '9d3c6e0b-7a51-4f2e-8c0d-2b6a4e1f3c59'
    Author            = 'ExchangeMfa contributors'
    CompanyName       = 'ExchangeMfa'
    Description       = 'ExchangeMfa compatibility module (not Microsoft''s): loads ExchangeMfa, which offers Connect-ExchangeOnline, Connect-IPPSSession, Get-ConnectionInformation and Disconnect-ExchangeOnline, for scripts that look for ExchangeOnlineManagement.'
    PowerShellVersion = '7.2'
    FunctionsToExport = @()
    CmdletsToExport   = @()
    VariablesToExport = @()
    AliasesToExport   = @()
    PrivateData       = @{
        $($script:CompatibilityMarker) = @{ ExchangeMfaManifest = '$quoted' }
        PSData = @{ Tags = @('ExchangeMfa', 'Compatibility') }
    }
}
"@
    $rootModule = @"
# ExchangeMfa's compatibility module (Install-ExchangeMfaCompatibility).
# A real ExchangeOnlineManagement, if one is installed, wins: it is imported
# instead, with a warning. Otherwise ExchangeMfa is imported globally: its
# Connect-ExchangeOnline, Connect-IPPSSession, Get-ConnectionInformation and
# Disconnect-ExchangeOnline stand in for Microsoft's.
`$exchangeMfa = '$quoted'
if (-not (Test-Path -LiteralPath `$exchangeMfa)) { `$exchangeMfa = 'ExchangeMfa' }
`$module = Import-Module `$exchangeMfa -Global -PassThru -ErrorAction Stop
`$real = @([ExchangeMfa.ModuleScope]::Call('Find-RealExchangeOnlineManagement', @{}))
if (`$real.Count -gt 0) {
    Write-Warning "Microsoft's ExchangeOnlineManagement is installed (`$(`$real[0])); importing it instead of ExchangeMfa's compatibility module. Run Uninstall-ExchangeMfaCompatibility to remove the compatibility module."
    Import-Module `$real[0] -Global
}
"@
    [pscustomobject]@{ Manifest = $manifest; RootModule = $rootModule }
}
