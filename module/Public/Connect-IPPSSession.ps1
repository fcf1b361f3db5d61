function Connect-IPPSSession {
    <#
    .SYNOPSIS
    Connects to Security & Compliance PowerShell (Microsoft Purview) over its REST endpoint, under Microsoft's command name.

    .DESCRIPTION
    Connect-IPPSSession takes every parameter of Microsoft's
    Connect-IPPSSession and signs in through Connect-ExchangeMfa's sign-in
    (the same modes, token cache and renewal), for the Security &
    Compliance endpoint instead of Exchange Online: its own host and token
    resource (docs/compliance.md has them for every cloud, with sources).
    Like Microsoft's command it returns nothing; Get-ConnectionInformation
    shows the connection (IsEopSession True, Name
    ExchangeOnlineProtection_<Id>).

    An Exchange Online connection and a Security & Compliance connection
    can be open at once. The newest unprefixed Security & Compliance
    connection is the default one for Security & Compliance commands
    (Invoke-ExchangeMfaCommand -ConnectionId, and the generated commands
    that route by product); the default Exchange connection does not
    change.

    The cloud follows -ConnectionUri (its host: for example
    https://ps.compliance.protection.office365.us/powershell-liveid/ is GCC
    High) with the authority from -AzureADAuthorizationEndpointUri, as in
    Microsoft's module. The default is the worldwide endpoint,
    https://ps.compliance.protection.outlook.com.

    Parameters that mean nothing here are accepted and ignored (a verbose
    message says so): -PSSessionOption, -FormatTypeName,
    -BypassMailboxAnchoring, -DisableWAM, -EnableErrorReporting,
    -EnableSearchOnlySession, -EXOModuleBasePath, -LogDirectoryPath,
    -LogLevel. -UseRPSSession writes a warning (Remote PowerShell is
    retired) and connects over REST.

    -Device is ExchangeMfa's addition (Microsoft's command has none): the
    device code flow, for SSH sessions and machines without a browser.

    .PARAMETER ConnectionUri
    The Security & Compliance endpoint, when it is not the worldwide one:
    https://ps.compliance.protection.office365.us/powershell-liveid/ (GCC
    High), https://l5.ps.compliance.protection.office365.us/powershell-liveid/
    (DoD), https://ps.compliance.protection.partner.outlook.cn/powershell-liveid
    (21Vianet), or a regional host. Its host selects the cloud; only its
    scheme, host and port are used.

    .PARAMETER AzureADAuthorizationEndpointUri
    The authority, for example https://login.microsoftonline.us/organizations
    for GCC High and DoD.

    .PARAMETER DelegatedOrganization
    The customer tenant to manage, for partners.

    .PARAMETER PSSessionOption
    Accepted and ignored: there is no remote PowerShell session.

    .PARAMETER Prefix
    A prefix for this connection's commands. A prefixed connection does not
    replace the default Security & Compliance connection.

    .PARAMETER CommandName
    Only these Security & Compliance commands are made.

    .PARAMETER FormatTypeName
    Accepted and ignored.

    .PARAMETER AccessToken
    An access token for the Security & Compliance resource you already
    have; it cannot be renewed.

    .PARAMETER AppId
    The application (client) id for app-only sign-in with a certificate.

    .PARAMETER BypassMailboxAnchoring
    Accepted and ignored.

    .PARAMETER Certificate
    App-only sign-in with a certificate object that has its private key.

    .PARAMETER CertificateFilePath
    App-only sign-in with a PFX file (or a PEM file with the key).

    .PARAMETER CertificatePassword
    The password of the PFX file.

    .PARAMETER CertificateThumbprint
    App-only sign-in with a certificate found by thumbprint in the
    certificate folder (see Connect-ExchangeMfa).

    .PARAMETER Credential
    User name and password, for accounts without MFA.

    .PARAMETER Device
    ExchangeMfa's addition: the device code flow.

    .PARAMETER DisableWAM
    Accepted and ignored.

    .PARAMETER EnableErrorReporting
    Accepted and ignored.

    .PARAMETER EnableSearchOnlySession
    Accepted and ignored: eDiscovery cmdlets use the same connection.

    .PARAMETER EXOModuleBasePath
    Accepted and ignored.

    .PARAMETER LogDirectoryPath
    Accepted and ignored.

    .PARAMETER LogLevel
    Accepted and ignored (Default or All).

    .PARAMETER Organization
    The tenant, required for app-only sign-in.

    .PARAMETER ShowBanner
    The banner is shown by default; -ShowBanner:$false hides it.

    .PARAMETER ThrottleLimit
    ExchangeMfa's own: requests kept in flight for pipeline input, 1 to 64
    (default 8). See Connect-ExchangeMfa.

    .PARAMETER UserPrincipalName
    The account to sign in with.

    .PARAMETER UseRPSSession
    Remote PowerShell is retired: a warning is written and REST is used.

    .EXAMPLE
    PS> Connect-ExchangeOnline -UserPrincipalName admin@contoso.onmicrosoft.com -Device
    PS> Connect-IPPSSession -UserPrincipalName admin@contoso.onmicrosoft.com -Device
    PS> Invoke-ExchangeMfaCommand -Name Get-ComplianceSearch -ConnectionId (Get-ConnectionInformation | Where-Object IsEopSession).ConnectionId

    Both connections open at once; a Security & Compliance cmdlet on the
    S&C connection.

    .EXAMPLE
    PS> Connect-IPPSSession -UserPrincipalName admin@contoso.us -ConnectionUri https://ps.compliance.protection.office365.us/powershell-liveid/ -AzureADAuthorizationEndpointUri https://login.microsoftonline.us/organizations

    Connects to Security & Compliance in GCC High.

    .INPUTS
    None.

    .OUTPUTS
    None.

    .LINK
    Connect-ExchangeOnline

    .LINK
    Get-ConnectionInformation

    .LINK
    https://learn.microsoft.com/powershell/module/exchangepowershell/connect-ippssession
    #>
    [CmdletBinding()]
    [OutputType([void])]
    param(
        [Parameter(Position = 0)] [string] $ConnectionUri,
        [Parameter(Position = 1)] [string] $AzureADAuthorizationEndpointUri,
        [Parameter(Position = 2)] [string] $DelegatedOrganization,
        [Parameter(Position = 3)] [System.Management.Automation.Remoting.PSSessionOption] $PSSessionOption,
        [Parameter(Position = 4)] [string] $Prefix,
        [Parameter(Position = 5)] [string[]] $CommandName,
        [Parameter(Position = 6)] [string[]] $FormatTypeName,
        [string] $AccessToken,
        [string] $AppId,
        [switch] $BypassMailboxAnchoring,
        [System.Security.Cryptography.X509Certificates.X509Certificate2] $Certificate,
        [string] $CertificateFilePath,
        [securestring] $CertificatePassword,
        [string] $CertificateThumbprint,
        [pscredential] $Credential,
        [switch] $Device,
        [switch] $DisableWAM,
        [switch] $EnableErrorReporting,
        [switch] $EnableSearchOnlySession,
        [string] $EXOModuleBasePath,
        [string] $LogDirectoryPath,
        [ValidateSet('Default', 'All')] [string] $LogLevel,
        [string] $Organization,
        [switch] $ShowBanner,
        [ValidateRange(1, 64)] [int] $ThrottleLimit,
        [string] $UserPrincipalName,
        [switch] $UseRPSSession
    )
    Import-ExchangeMfaRuntime
    $connect = ConvertTo-ExchangeMfaConnectParameters -Bound $PSBoundParameters -Cmdlet $PSCmdlet
    $null = Connect-ExchangeMfa @connect -Product SecurityCompliance
}
