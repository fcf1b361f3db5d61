function Get-ConnectionInformation {
    <#
    .SYNOPSIS
    Gets the open connections with the fields of Microsoft's Get-ConnectionInformation.

    .DESCRIPTION
    Get-ConnectionInformation returns one ExchangeMfa.ConnectionInformation
    object per open connection (Exchange Online and Security & Compliance),
    in the order they were opened, with Microsoft's fields: ConnectionId,
    State, Id (1, 2, ... in the order this session first saw them), Name
    (ExchangeOnline_<Id>, or ExchangeOnlineProtection_<Id> for Security &
    Compliance), UserPrincipalName, ConnectionUri,
    AzureAdAuthorizationEndpointUri, TokenExpiryTimeUTC,
    CertificateAuthentication, ModuleName (the in-memory module holding the
    connection's commands), ModulePrefix, Organization,
    DelegatedOrganization, AppId, PageSize, TenantID, TokenStatus (Active,
    Expired, or what the helper reports), ConnectionUsedForInbuiltCmdlets
    (the default connection of its product) and IsEopSession (True for
    Security & Compliance). It never holds a token.

    When nothing is connected it returns nothing (and starts nothing).

    .PARAMETER ConnectionId
    Returns only the connections with these ids.

    .PARAMETER ModulePrefix
    Returns only the connections opened with these -Prefix values.

    .EXAMPLE
    PS> Get-ConnectionInformation

    Lists every open connection as a table.

    .EXAMPLE
    PS> Get-ConnectionInformation -ModulePrefix Contoso, Fabrikam | Format-List

    Shows every field of the connections with these prefixes.

    .INPUTS
    None.

    .OUTPUTS
    ExchangeMfa.ConnectionInformation.

    .LINK
    Get-ExchangeMfaConnection

    .LINK
    Connect-ExchangeOnline

    .LINK
    https://learn.microsoft.com/powershell/module/exchangepowershell/get-connectioninformation
    #>
    [CmdletBinding(DefaultParameterSetName = 'Default')]
    [OutputType('ExchangeMfa.ConnectionInformation')]
    param(
        [Parameter(Mandatory, ParameterSetName = 'ConnectionId')]
        [ValidateNotNullOrEmpty()]
        [string[]] $ConnectionId,

        [Parameter(Mandatory, ParameterSetName = 'ModulePrefix')]
        [ValidateNotNullOrEmpty()]
        [string[]] $ModulePrefix
    )
    Import-ExchangeMfaRuntime
    $helper = [ExchangeMfa.Helper]::Get($PSCmdlet, $true, $false)
    if (-not $helper) { return }
    foreach ($session in $helper.List($PSCmdlet)) {
        $information = ConvertTo-ConnectionInformation -Session $session
        $wanted = switch ($PSCmdlet.ParameterSetName) {
            'ConnectionId' { $information.ConnectionId -in $ConnectionId }
            'ModulePrefix' { $information.ModulePrefix -and $information.ModulePrefix -in $ModulePrefix }
            default { $true }
        }
        if ($wanted) { $information }
    }
}
