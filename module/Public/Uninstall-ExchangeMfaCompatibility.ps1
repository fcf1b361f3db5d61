function Uninstall-ExchangeMfaCompatibility {
    <#
    .SYNOPSIS
    Removes the compatibility module that Install-ExchangeMfaCompatibility wrote.

    .DESCRIPTION
    Uninstall-ExchangeMfaCompatibility removes the ExchangeOnlineManagement
    compatibility module from the scope's module folder (or -Path): only a
    module whose manifest carries ExchangeMfa's mark, only the two files
    Install-ExchangeMfaCompatibility wrote, and the folders they leave
    empty. Microsoft's real module, anything else in the folder and any
    other version are left alone. Nothing installed is not an error.

    .PARAMETER Scope
    CurrentUser (the default) or AllUsers.

    .PARAMETER Path
    The module folder given to Install-ExchangeMfaCompatibility -Path.

    .EXAMPLE
    PS> Uninstall-ExchangeMfaCompatibility

    Removes the compatibility module from your module folder.

    .EXAMPLE
    PS> Uninstall-ExchangeMfaCompatibility -Path ./modules -WhatIf

    Shows what would be removed.

    .INPUTS
    None.

    .OUTPUTS
    None.

    .LINK
    Install-ExchangeMfaCompatibility

    .LINK
    about_ExchangeMfa
    #>
    [CmdletBinding(SupportsShouldProcess, DefaultParameterSetName = 'Scope')]
    [OutputType([void])]
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
    $name = $script:CompatibilityModuleName
    foreach ($found in Get-ExchangeOnlineManagementManifest -Root $root | Where-Object IsCompatibility) {
        $folder = Split-Path $found.Path
        if (-not $PSCmdlet.ShouldProcess($folder, 'Remove the ExchangeMfa compatibility module')) { continue }
        foreach ($file in "$name.psd1", "$name.psm1") {
            Remove-Item -LiteralPath (Join-Path $folder $file) -ErrorAction Ignore
        }
        # Only folders left empty go; what someone else put there stays.
        foreach ($dir in $folder, (Join-Path $root $name)) {
            if ((Test-Path -LiteralPath $dir) -and -not (Get-ChildItem -LiteralPath $dir -Force)) { Remove-Item -LiteralPath $dir }
        }
        Write-Verbose "Removed the compatibility module from $folder."
    }
}
