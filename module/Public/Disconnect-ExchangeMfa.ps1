function Disconnect-ExchangeMfa {
    <#
    .SYNOPSIS
    Closes Exchange Online connections and forgets their tokens.

    .DESCRIPTION
    Disconnect-ExchangeMfa closes the connections with the given ids, or
    every connection when no id is given. The helper wipes the connection's
    tokens from memory; -ForgetCache also removes the account from the
    token cache. When the last connection closes the helper process
    ends too. The connection's Exchange commands go with it: a prefix's
    commands (Get-ContosoMailbox) when its connection closes, the unprefixed
    ones (Get-Mailbox) when the last connection opened without a prefix
    closes.

    Like Disconnect-ExchangeOnline it asks for confirmation; use
    -Confirm:$false in scripts.

    .PARAMETER ConnectionId
    The ids of the connections to close. Accepts ExchangeMfa.Connection
    objects from the pipeline (by the ConnectionId property). Without it,
    every connection closes.

    .PARAMETER ForgetCache
    Also removes the accounts' tokens from the token cache, so the next
    sign-in asks again (a browser, a device code) instead of connecting
    silently.

    .EXAMPLE
    PS> Disconnect-ExchangeMfa -Confirm:$false

    Closes every connection without asking.

    .EXAMPLE
    PS> Get-ExchangeMfaConnection | Where-Object State -ne 'Connected' | Disconnect-ExchangeMfa

    Closes the connections whose sign-in ended, asking for each one.

    .EXAMPLE
    PS> Disconnect-ExchangeMfa -ConnectionId $connection.ConnectionId -WhatIf

    Shows what would be closed without closing it.

    .EXAMPLE
    PS> Disconnect-ExchangeMfa -ForgetCache -Confirm:$false

    Closes every connection and forgets the cached sign-ins, for example on
    a shared computer.

    .INPUTS
    System.String. Connection ids, by property name.

    .OUTPUTS
    None.

    .LINK
    Connect-ExchangeMfa

    .LINK
    Get-ExchangeMfaConnection

    .LINK
    about_ExchangeMfa
    #>
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'High')]
    [OutputType([void])]
    param(
        [Parameter(Position = 0, ValueFromPipelineByPropertyName)]
        [ValidateNotNullOrEmpty()]
        [string[]] $ConnectionId,

        [switch] $ForgetCache
    )
    begin { Import-ExchangeMfaRuntime }
    process {
        $helper = [ExchangeMfa.Helper]::Get($PSCmdlet, $true, $false)
        if (-not $helper) {
            foreach ($wanted in $ConnectionId) {
                $PSCmdlet.WriteError([ExchangeMfa.ErrorRecords]::Create('ConnectionNotFound', "There is no open connection with id '$wanted'.", $wanted))
            }
            return
        }
        $targets = if ($ConnectionId) {
            $ConnectionId
        }
        else {
            @($helper.List($PSCmdlet) | ForEach-Object { [string]$_.connectionId })
        }
        foreach ($id in $targets) {
            if (-not $PSCmdlet.ShouldProcess($id, 'Disconnect from Exchange Online')) { continue }
            $params = [ordered]@{ connectionId = $id }
            if ($ForgetCache) { $params.forgetCache = $true }
            $reply = $helper.Invoke('disconnect', $params, $PSCmdlet)
            if ($reply.error) {
                $PSCmdlet.WriteError([ExchangeMfa.ErrorRecords]::FromHelper($reply.error, $id))
                continue
            }
            Write-Verbose "Disconnected $id."
            Remove-ExchangeProxyModule -ConnectionId $id
            Unregister-Connection -ConnectionId $id
        }
    }
    end {
        $helper = $script:Helper
        if (-not $helper -or $helper.Process.HasExited) { return }
        $left = $helper.List($PSCmdlet)
        if ($left.Count -eq 0) {
            Write-Verbose 'No connection is left; stopping the ExchangeMfa helper.'
            [ExchangeMfa.Helper]::Stop($helper, $PSCmdlet)
        }
        else {
            Update-DefaultConnection -Sessions $left
        }
    }
}
