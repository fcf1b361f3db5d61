function Invoke-ExchangeMfaCommand {
    <#
    .SYNOPSIS
    Runs any Exchange Online cmdlet through the admin REST endpoint and streams its results.

    .DESCRIPTION
    Invoke-ExchangeMfaCommand runs an Exchange Online cmdlet by name with a
    hashtable of parameters on a connection opened with Connect-ExchangeMfa.
    Result objects are written to the pipeline as soon as each one arrives,
    typed ExchangeMfa.<Noun> (Get-Mailbox gives ExchangeMfa.Mailbox). Exchange
    warnings become PowerShell warnings; a read of more than one page shows
    progress.

    Results arrive page by page; the next pages are only fetched while the
    pipeline keeps reading, so `| Select-Object -First 3` stops the paging.

    Parameter values are encoded as Exchange expects: switches as booleans,
    hashtables as Exchange.GenericHashTable, dates in UTC, byte arrays as
    Exchange.ByteArrayType.

    A cmdlet that changes state (the catalogue says so, or its verb is not
    one that only reads: Get, Search, Test, Export) honours -WhatIf and
    -Confirm like the generated commands: with -WhatIf nothing is sent.

    .PARAMETER Name
    The Exchange cmdlet to run, for example Get-Mailbox or Get-Recipient.

    .PARAMETER Parameters
    The cmdlet's parameters as a hashtable, for example
    @{ Identity = 'user0001'; RecipientTypeDetails = 'UserMailbox' }.

    .PARAMETER ResultSize
    The most objects to return: a positive number or Unlimited. Without it,
    every page is read.

    .PARAMETER ConnectionId
    The connection to use. Without it, the default connection (the newest
    one opened).

    .PARAMETER PageSize
    Objects per page for this call, 1 to 1000. Without it, the connection's
    page size.

    .EXAMPLE
    PS> Invoke-ExchangeMfaCommand -Name Get-Mailbox -Parameters @{ Identity = 'user0001' }

    Runs Get-Mailbox for one mailbox.

    .EXAMPLE
    PS> Invoke-ExchangeMfaCommand Remove-Mailbox @{ Identity = 'user0001' } -WhatIf

    Says what would be removed, and sends nothing to Exchange.

    .EXAMPLE
    PS> Invoke-ExchangeMfaCommand Get-Recipient @{ RecipientTypeDetails = 'UserMailbox' } -ResultSize Unlimited | Measure-Object

    Counts every user mailbox recipient, page by page.

    .INPUTS
    None.

    .OUTPUTS
    ExchangeMfa.Mailbox, or ExchangeMfa.<Noun> for other cmdlets.

    .LINK
    Get-Mailbox

    .LINK
    Connect-ExchangeMfa

    .LINK
    about_ExchangeMfa
    #>
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'Medium')]
    [OutputType('ExchangeMfa.Mailbox')]
    param(
        [Parameter(Mandatory, Position = 0)]
        [ValidatePattern('^[A-Za-z]+-[A-Za-z0-9]+$')]
        [string] $Name,

        [Parameter(Position = 1)]
        [System.Collections.IDictionary] $Parameters,

        [ValidatePattern('^(Unlimited|[1-9][0-9]{0,9})$')]
        [string] $ResultSize,

        [ValidateNotNullOrEmpty()]
        [string] $ConnectionId,

        [ValidateRange(1, 1000)]
        [int] $PageSize
    )
    Import-ExchangeMfaRuntime
    $target = if ($Parameters -and $Parameters.Contains('Identity')) { $Parameters['Identity'] } else { $Name }
    if ((Test-ExchangeCommandChangesState -Name $Name) -and -not $PSCmdlet.ShouldProcess([string]$target, $Name)) { return }
    # The invoke and its objects: compiled (module/Types/ExchangeStream.cs).
    [ExchangeMfa.ExchangeStream]::Start($PSCmdlet, $Name, $Parameters, $ResultSize, $PageSize, $ConnectionId, $target, $null, $null, 0).Receive()
}
