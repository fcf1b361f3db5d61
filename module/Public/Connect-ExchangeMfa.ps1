function Connect-ExchangeMfa {
    <#
    .SYNOPSIS
    Signs in to Exchange Online with multi-factor authentication and opens a connection.

    .DESCRIPTION
    Connect-ExchangeMfa signs in to the Microsoft identity platform and opens a
    connection, then makes the Exchange commands (Get-Mailbox, Set-Mailbox,
    Add-MailboxPermission and the rest of the module's catalogue) available
    as proxy commands, like Connect-ExchangeOnline does. Several connections
    can be open at once.

    Without -Prefix the connection becomes the default one, and the commands
    (Get-Mailbox ...) use the default connection. With -Prefix the commands
    carry the prefix in their noun (-Prefix Contoso: Get-ContosoMailbox) and
    are bound to this connection; the default connection does not change
    unless there was none. Every generated command also takes -ConnectionId
    to pick another connection for one call. -CommandName limits which
    commands are made.

    With -Device the sign-in uses the device code flow: the command shows a
    code and a web address; open the address on any device (a phone, another
    computer), enter the code and complete the sign-in there, including the
    MFA step. This works over SSH and on machines without a browser.

    Browser sign-in on this machine is not available in this version; use
    -Device.

    Tokens stay inside the module's helper process and are renewed silently
    while the connection is open. They never appear in the returned object,
    in errors or in logs.

    .PARAMETER UserPrincipalName
    The account to sign in with, for example admin@contoso.onmicrosoft.com.
    It is sent as a login hint and used as the anchor mailbox for Exchange
    requests.

    .PARAMETER Device
    Signs in with the device code flow: the command shows a code to enter at
    a web address on another device.

    .PARAMETER Organization
    The tenant to sign in to: a domain such as contoso.onmicrosoft.com or a
    tenant id. Without it the account's home tenant is used.

    .PARAMETER AppId
    The application (client) id to sign in with. The default is Microsoft's
    public client for Exchange Online PowerShell.

    .PARAMETER ConnectionUri
    The Exchange Online endpoint requests go to, when it is not the default
    one of the environment. It changes where requests go, not the resource
    the token is for.

    .PARAMETER AzureADAuthorizationEndpointUri
    The authority to sign in with, for example
    https://login.microsoftonline.com/organizations.

    .PARAMETER ExchangeEnvironmentName
    The Microsoft cloud: O365Default (worldwide, the default),
    O365USGovGCCHigh, O365USGovDoD or O365China.

    .PARAMETER PageSize
    How many objects Exchange returns per page on this connection, 1 to 1000
    (default 1000).

    .PARAMETER ShowBanner
    Shows a short banner before signing in. It is on by default; use
    -ShowBanner:$false to hide it.

    .PARAMETER Prefix
    A prefix for the nouns of this connection's commands: -Prefix Contoso
    makes Get-ContosoMailbox, Set-ContosoMailbox and so on, bound to this
    connection. Letters and digits only; EXO is reserved (Microsoft's module
    uses it). Connecting again with the same prefix moves the commands to
    the new connection.

    .PARAMETER CommandName
    Only these Exchange commands are made (by their Exchange names, for
    example Get-Mailbox, Set-Mailbox), which makes Connect faster and
    lighter. Without it, every command of the catalogue is made.

    .PARAMETER DelegatedOrganization
    The customer tenant to manage, for partners who administer other
    organizations (a domain such as fabrikam.onmicrosoft.com). Requests go
    to that tenant's Exchange endpoint with the partner's sign-in.

    .PARAMETER Resource
    The resource the access token is for, when it is not the environment's
    Exchange Online resource (for example https://outlook.office365.com).

    .EXAMPLE
    PS> Connect-ExchangeMfa -UserPrincipalName admin@contoso.onmicrosoft.com -Device

    Shows a device code; after the sign-in on another device, returns the
    connection and makes it the default one.

    .EXAMPLE
    PS> $fabrikam = Connect-ExchangeMfa -UserPrincipalName admin@fabrikam.onmicrosoft.com -Organization fabrikam.onmicrosoft.com -Device -ShowBanner:$false
    PS> Get-Mailbox -ConnectionId $fabrikam.ConnectionId -ResultSize 10

    Opens a second connection to another tenant and uses it explicitly.

    .EXAMPLE
    PS> Connect-ExchangeMfa -UserPrincipalName admin@contoso.onmicrosoft.com -Device -Prefix Contoso -CommandName Get-Mailbox, Set-Mailbox
    PS> Get-ContosoMailbox -ResultSize 10

    Makes only Get-ContosoMailbox and Set-ContosoMailbox, bound to this connection.

    .EXAMPLE
    PS> Connect-ExchangeMfa -UserPrincipalName admin@contoso.us -Device -ExchangeEnvironmentName O365USGovGCCHigh

    Signs in to the GCC High cloud.

    .INPUTS
    None.

    .OUTPUTS
    ExchangeMfa.Connection. The connection: ConnectionId, UserPrincipalName,
    TenantId, Organization, Environment, ConnectionUri, SignInMode,
    TokenExpiresUtc, State and more. It never holds a token.

    .LINK
    Get-ExchangeMfaConnection

    .LINK
    Disconnect-ExchangeMfa

    .LINK
    about_ExchangeMfa
    #>
    [CmdletBinding()]
    [OutputType('ExchangeMfa.Connection')]
    param(
        [Parameter(Position = 0)]
        [ValidateNotNullOrEmpty()]
        [string] $UserPrincipalName,

        [switch] $Device,

        [ValidateNotNullOrEmpty()]
        [string] $Organization,

        [ValidateNotNullOrEmpty()]
        [string] $AppId,

        [ValidateNotNullOrEmpty()]
        [string] $ConnectionUri,

        [ValidateNotNullOrEmpty()]
        [string] $AzureADAuthorizationEndpointUri,

        [ValidateSet('O365Default', 'O365USGovGCCHigh', 'O365USGovDoD', 'O365China')]
        [string] $ExchangeEnvironmentName = 'O365Default',

        [ValidateRange(1, 1000)]
        [int] $PageSize,

        [switch] $ShowBanner,

        [ValidateNotNullOrEmpty()]
        [string] $Resource,

        [ValidatePattern('^[a-zA-Z0-9]+$')]
        [ValidateScript({ $_ -ne 'EXO' }, ErrorMessage = 'The prefix EXO is reserved for Microsoft''s module.')]
        [string] $Prefix,

        [ValidateNotNullOrEmpty()]
        [string[]] $CommandName,

        [ValidateNotNullOrEmpty()]
        [string] $DelegatedOrganization
    )

    # A -CommandName typo fails before anybody signs in.
    if ($CommandName) { $null = Resolve-ExchangeCommandName -Name $CommandName -Cmdlet $PSCmdlet }

    if (-not $Device) {
        $record = New-ExchangeMfaErrorRecord -Name BrowserSignInNotAvailable `
            -Message 'Browser sign-in is not available in this version of ExchangeMfa. Add -Device to sign in with a device code.'
        $PSCmdlet.ThrowTerminatingError($record)
    }

    # On unless -ShowBanner:$false, like Connect-ExchangeOnline.
    if (-not $PSBoundParameters.ContainsKey('ShowBanner') -or $ShowBanner) {
        Write-ExchangeMfaBanner
    }

    $params = [ordered]@{ mode = 'device'; environment = $ExchangeEnvironmentName }
    if ($UserPrincipalName) { $params.userPrincipalName = $UserPrincipalName }
    if ($Organization) { $params.organization = $Organization }
    if ($AppId) { $params.appId = $AppId }
    if ($ConnectionUri) { $params.connectionUri = $ConnectionUri }
    if ($AzureADAuthorizationEndpointUri) { $params.authority = $AzureADAuthorizationEndpointUri }
    if ($Resource) { $params.resource = $Resource }
    if ($DelegatedOrganization) { $params.delegatedOrganization = $DelegatedOrganization }
    if ($PSBoundParameters.ContainsKey('PageSize')) { $params.pageSize = $PageSize }

    $helper = Get-HelperProcess -Cmdlet $PSCmdlet -ReplaceExited
    $id = Send-HelperRequest -Helper $helper -Method connect -Params $params -Cmdlet $PSCmdlet
    $reply = $null
    # Until the device code arrives the helper only talks to the identity
    # platform; afterwards the code's own lifetime bounds the wait.
    $timeout = $script:RequestTimeoutSeconds + 90
    try {
        while ($null -eq $reply) {
            $message = Receive-HelperMessage $helper $id $timeout $PSCmdlet
            if ('deviceCode' -eq $message.method) {
                $code = $message.params
                $text = [string]$code.message
                if (-not $text) { $text = "To sign in, open $($code.verificationUri) and enter the code $($code.userCode)." }
                Write-Host $text
                $info = [pscustomobject]@{
                    PSTypeName      = 'ExchangeMfa.DeviceCode'
                    UserCode        = [string]$code.userCode
                    VerificationUri = [string]$code.verificationUri
                    ExpiresIn       = [int]$code.expiresIn
                    Interval        = [int]$code.interval
                    Message         = $text
                }
                $info | Add-Member -MemberType ScriptMethod -Name ToString -Value { $this.Message } -Force
                Write-Information -MessageData $info -Tags 'ExchangeMfa', 'DeviceCode'
                $timeout = [int]$code.expiresIn + 60
            }
            elseif ($null -eq $message.method) {
                $reply = $message
            }
        }
    }
    finally {
        # A stopped command (Ctrl+C) stops the polling in the helper too.
        Complete-HelperRequest -Helper $helper -Id $id -Cancel:($null -eq $reply)
        Read-HelperStderr -Helper $helper
    }

    if ($reply.error) {
        $record = ConvertTo-ExchangeMfaErrorRecord -HelperError $reply.error -TargetObject $UserPrincipalName
        # A failed first sign-in leaves nothing for the helper to keep.
        if ((Get-HelperConnectionList -Helper $helper -Cmdlet $PSCmdlet).Count -eq 0) { Stop-HelperProcess }
        $PSCmdlet.ThrowTerminatingError($record)
    }

    $connectionId = [string]$reply.result.connectionId
    if (-not $Prefix -or -not $script:DefaultConnectionId) { $script:DefaultConnectionId = $connectionId }
    $organization = if ($DelegatedOrganization) { $DelegatedOrganization } else { [string]$reply.result.organization }
    Import-ExchangeProxyModule -ConnectionId $connectionId -Prefix $Prefix -CommandName $CommandName `
        -Organization $organization -Cmdlet $PSCmdlet
    ConvertTo-ExchangeMfaConnection -Session $reply.result
}
