function Get-ExchangeMfaConnection {
    <#
    .SYNOPSIS
    Gets the open Exchange Online connections.

    .DESCRIPTION
    Get-ExchangeMfaConnection returns one ExchangeMfa.Connection object per
    connection opened with Connect-ExchangeMfa, in the order they were
    opened, with the current token expiry and state. IsDefault marks the
    connection that Exchange commands use when no -ConnectionId is given.

    When nothing is connected it returns nothing (and starts nothing).

    .PARAMETER ConnectionId
    Returns only the connections with these ids. An id that is not open is
    reported as a non-terminating error.

    .EXAMPLE
    PS> Get-ExchangeMfaConnection

    Lists every open connection.

    .EXAMPLE
    PS> Get-ExchangeMfaConnection | Where-Object Organization -eq 'fabrikam.onmicrosoft.com' | Disconnect-ExchangeMfa -Confirm:$false

    Closes the connections to one tenant.

    .INPUTS
    System.String. Connection ids, by property name.

    .OUTPUTS
    ExchangeMfa.Connection. Never holds a token.

    .LINK
    Connect-ExchangeMfa

    .LINK
    Disconnect-ExchangeMfa

    .LINK
    about_ExchangeMfa
    #>
    [CmdletBinding()]
    [OutputType('ExchangeMfa.Connection')]
    param(
        [Parameter(Position = 0, ValueFromPipelineByPropertyName)]
        [ValidateNotNullOrEmpty()]
        [string[]] $ConnectionId
    )
    begin { Import-ExchangeMfaRuntime }
    process {
        $helper = [ExchangeMfa.Helper]::Get($PSCmdlet, $true, $false)
        $sessions = if ($helper) { $helper.List($PSCmdlet) } else { @() }
        if (-not $ConnectionId) {
            foreach ($session in $sessions) { [ExchangeMfa.Connections]::ToConnection($session, (Get-ExchangeProxyPrefix -ConnectionId ([string]$session.connectionId))) }
            return
        }
        foreach ($wanted in $ConnectionId) {
            $found = @($sessions | Where-Object { $_.connectionId -eq $wanted })
            if ($found.Count -eq 0) {
                $record = [ExchangeMfa.ErrorRecords]::Create('ConnectionNotFound', "There is no open connection with id '$wanted'.", $wanted)
                $PSCmdlet.WriteError($record)
                continue
            }
            foreach ($session in $found) { [ExchangeMfa.Connections]::ToConnection($session, (Get-ExchangeProxyPrefix -ConnectionId ([string]$session.connectionId))) }
        }
    }
}
