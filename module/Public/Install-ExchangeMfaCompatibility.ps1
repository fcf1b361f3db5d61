function Install-ExchangeMfaCompatibility {
    <#
    .SYNOPSIS
    Installs a small module named ExchangeOnlineManagement that loads ExchangeMfa, for scripts that look for Microsoft's module by name.

    .DESCRIPTION
    Scripts written for Microsoft's module often check for it by name:
    Import-Module ExchangeOnlineManagement, Get-Module
    ExchangeOnlineManagement -ListAvailable, or #Requires -Modules
    ExchangeOnlineManagement. Install-ExchangeMfaCompatibility writes a
    compatibility module with that name (a manifest and a root module, version
    3.9.2, marked in its manifest as ExchangeMfa's) into your module folder.
    Importing it imports ExchangeMfa, whose Connect-ExchangeOnline,
    Connect-IPPSSession, Get-ConnectionInformation and
    Disconnect-ExchangeOnline then serve those scripts.

    It is opt-in and never hides Microsoft's module: it refuses to install
    when a real ExchangeOnlineManagement is on the module path or in the
    target folder, and if one is installed later, importing the
    compatibility module imports the real one instead, with a warning.
    Uninstall-ExchangeMfaCompatibility removes exactly what this command
    wrote. Installing again updates it.

    .PARAMETER Scope
    CurrentUser (the default: your own module folder, for example
    ~/.local/share/powershell/Modules) or AllUsers (needs the rights to
    write there).

    .PARAMETER Path
    A module folder to install into instead of the scope's one (for tests,
    or a folder you add to PSModulePath).

    .EXAMPLE
    PS> Install-ExchangeMfaCompatibility
    PS> pwsh -c 'Import-Module ExchangeOnlineManagement; Connect-ExchangeOnline -Device'

    Existing scripts that import ExchangeOnlineManagement now get ExchangeMfa.

    .EXAMPLE
    PS> Install-ExchangeMfaCompatibility -Path ./modules -WhatIf

    Shows where it would be written.

    .INPUTS
    None.

    .OUTPUTS
    System.IO.FileInfo. The compatibility module's manifest.

    .LINK
    Uninstall-ExchangeMfaCompatibility

    .LINK
    Connect-ExchangeOnline
    #>
    [CmdletBinding(SupportsShouldProcess, DefaultParameterSetName = 'Scope')]
    [OutputType([System.IO.FileInfo])]
    param(
        [Parameter(ParameterSetName = 'Scope')]
        [ValidateSet('CurrentUser', 'AllUsers')]
        [string] $Scope = 'CurrentUser',

        [Parameter(Mandatory, ParameterSetName = 'Path')]
        [ValidateNotNullOrEmpty()]
        [string] $Path
    )
    Import-ExchangeMfaRuntime
    $root = if ($PSCmdlet.ParameterSetName -eq 'Path') { $PSCmdlet.GetUnresolvedProviderPathFromPSPath($Path) } else { Get-UserModuleRoot -Scope $Scope }
    $real = @(Find-RealExchangeOnlineManagement -ExtraRoot $root)
    if ($real.Count -gt 0) {
        $record = [ExchangeMfa.ErrorRecords]::Create('RealModulePresent', "Microsoft's ExchangeOnlineManagement is installed ($($real[0])); the compatibility module is not needed and would only get in its way. Nothing was written.", $real[0])
        $PSCmdlet.ThrowTerminatingError($record)
    }
    $folder = Join-Path $root "$script:CompatibilityModuleName/$script:CompatibilityModuleVersion"
    if (-not $PSCmdlet.ShouldProcess($folder, 'Install the ExchangeMfa compatibility module ExchangeOnlineManagement')) { return }
    $exchangeMfa = Join-Path (Get-Module ExchangeMfa).ModuleBase 'ExchangeMfa.psd1'
    $text = New-CompatibilityModuleText -ExchangeMfaManifest $exchangeMfa
    $null = New-Item -ItemType Directory -Path $folder -Force
    $manifest = Join-Path $folder "$script:CompatibilityModuleName.psd1"
    Set-Content -LiteralPath $manifest -Value $text.Manifest -Encoding utf8NoBOM
    Set-Content -LiteralPath (Join-Path $folder "$script:CompatibilityModuleName.psm1") -Value $text.RootModule -Encoding utf8NoBOM
    Get-Item -LiteralPath $manifest
}
