function Disconnect-ExchangeOnline {
    <#
    .SYNOPSIS
    Closes connections under Microsoft's command name: all of them, or those with the given ids or prefixes.

    .DESCRIPTION
    Disconnect-ExchangeOnline takes Microsoft's parameters and closes
    connections through Disconnect-ExchangeMfa (tokens wiped, the
    connection's commands removed, the helper stopped after the last one).
    Without a parameter every connection closes, Exchange Online and
    Security & Compliance alike. Like Microsoft's command it asks for
    confirmation (ConfirmImpact High); use -Confirm:$false in scripts.

    .PARAMETER ConnectionId
    The ids of the connections to close (Get-ConnectionInformation shows
    them). Takes objects with a ConnectionId property from the pipeline.

    .PARAMETER ModulePrefix
    Closes the connections opened with these -Prefix values.

    .EXAMPLE
    PS> Disconnect-ExchangeOnline -Confirm:$false

    Closes every connection without asking.

    .EXAMPLE
    PS> Get-ConnectionInformation | Where-Object TokenStatus -ne 'Active' | Disconnect-ExchangeOnline -Confirm:$false

    Closes the connections whose token is no longer usable.

    .EXAMPLE
    PS> Disconnect-ExchangeOnline -ModulePrefix Contoso -WhatIf

    Shows which connection would close.

    .INPUTS
    System.String. Connection ids, by property name.

    .OUTPUTS
    None.

    .LINK
    Connect-ExchangeOnline

    .LINK
    Disconnect-ExchangeMfa

    .LINK
    https://learn.microsoft.com/powershell/module/exchangepowershell/disconnect-exchangeonline
    #>
    [CmdletBinding(DefaultParameterSetName = 'DefaultParameterSet', SupportsShouldProcess, ConfirmImpact = 'High')]
    [OutputType([void])]
    param(
        [Parameter(Mandatory, ParameterSetName = 'ConnectionId', ValueFromPipelineByPropertyName)]
        [ValidateNotNullOrEmpty()]
        [string[]] $ConnectionId,

        [Parameter(Mandatory, ParameterSetName = 'ModulePrefix')]
        [ValidateNotNullOrEmpty()]
        [string[]] $ModulePrefix
    )
    begin {
        Import-ExchangeMfaRuntime
        $ids = [System.Collections.Generic.List[string]]::new()
    }
    process {
        if ($PSCmdlet.ParameterSetName -eq 'ModulePrefix') {
            $connections = @(Get-ConnectionInformation)
            foreach ($prefix in $ModulePrefix) {
                $matched = @($connections | Where-Object { $_.ModulePrefix -and $_.ModulePrefix -eq $prefix })
                if ($matched.Count -eq 0) {
                    $PSCmdlet.WriteError([ExchangeMfa.ErrorRecords]::Create('ConnectionNotFound', "There is no open connection with the prefix '$prefix'.", $prefix))
                }
                foreach ($connection in $matched) { $ids.Add($connection.ConnectionId) }
            }
        }
        elseif ($ConnectionId) { $ids.AddRange($ConnectionId) }
    }
    end {
        # One call, so that Disconnect-ExchangeMfa's end block (the new
        # defaults, stopping the helper) runs once. Without ids: all.
        if ($PSCmdlet.ParameterSetName -ne 'DefaultParameterSet' -and $ids.Count -eq 0) { return }
        $disconnect = @{ Confirm = $false }
        if ($ids.Count) { $disconnect.ConnectionId = $ids.ToArray() }
        if ($PSCmdlet.ParameterSetName -eq 'DefaultParameterSet') {
            if (-not $PSCmdlet.ShouldProcess('every connection', 'Disconnect')) { return }
        }
        else {
            $confirmed = @($ids | Where-Object { $PSCmdlet.ShouldProcess($_, 'Disconnect') })
            if ($confirmed.Count -eq 0) { return }
            $disconnect.ConnectionId = $confirmed
        }
        Disconnect-ExchangeMfa @disconnect
    }
}
