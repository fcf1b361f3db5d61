function Connect-ExchangeOnline {
    <#
    .SYNOPSIS
    Connects to Exchange Online under Microsoft's command name, for scripts written for the ExchangeOnlineManagement module.

    .DESCRIPTION
    Connect-ExchangeOnline takes every parameter of Microsoft's
    Connect-ExchangeOnline (same names, types and positions) and signs in
    through Connect-ExchangeMfa: the same sign-in modes, token cache,
    renewal and Exchange commands. Like Microsoft's command it returns
    nothing; Get-ConnectionInformation (or Get-ExchangeMfaConnection) shows
    the connection afterwards. Use Connect-ExchangeMfa when you want the
    connection object back.

    The sign-in follows the parameters, as in Microsoft's module: -Device
    for the device code flow, -Credential or -InlineCredential for a
    password (accounts without MFA), -AppId and -Organization with a
    certificate for app-only, -ManagedIdentity, -AccessToken; otherwise the
    browser sign-in.

    Parameters that mean nothing for ExchangeMfa are accepted and ignored
    (with a verbose message), so scripts keep working unchanged:
    -PSSessionOption, -FormatTypeName, -BypassMailboxAnchoring, -DisableWAM
    (there is no Windows broker: the system browser or a device code is
    used), -EnableErrorReporting, -EXOModuleBasePath, -LoadCmdletHelp,
    -SkipLoadingCmdletHelp (help of the Exchange commands is always
    there, generated from the catalogue), -LogDirectoryPath, -LogLevel,
    -TrackPerformance, -ShowProgress (progress is shown for long reads
    anyway), -SigningCertificate (the commands live in memory, not in a
    script file that would need a signature), -SkipLoadingFormatData (the
    format data is the module's own and always loaded), -UseMultithreading.

    -UseRPSSession asks for Remote PowerShell, which Microsoft retired for
    Exchange Online. ExchangeMfa always uses the REST endpoint: it warns and
    connects over REST. -UseRPSSession:$false is accepted silently.

    .PARAMETER ConnectionUri
    The Exchange Online endpoint, when it is not the default one of the
    cloud (for example https://outlook.office365.us/powershell-liveid for
    GCC High: without -ExchangeEnvironmentName its host selects the cloud).
    Only its scheme, host and port are used.

    .PARAMETER AzureADAuthorizationEndpointUri
    The authority to sign in with, for example
    https://login.microsoftonline.us/organizations.

    .PARAMETER ExchangeEnvironmentName
    The Microsoft cloud: O365Default (the default), O365USGovGCCHigh,
    O365USGovDoD or O365China.

    .PARAMETER PSSessionOption
    Accepted and ignored: there is no remote PowerShell session.

    .PARAMETER DelegatedOrganization
    The customer tenant to manage, for partners (a domain such as
    fabrikam.onmicrosoft.com).

    .PARAMETER Prefix
    A noun prefix for this connection's Exchange commands (-Prefix Contoso
    makes Get-ContosoMailbox). EXO is reserved.

    .PARAMETER CommandName
    Only these Exchange commands are made (Get-Mailbox, Set-Mailbox ...).

    .PARAMETER FormatTypeName
    Accepted and ignored: the module's format data is always loaded.

    .PARAMETER AccessToken
    An access token for Exchange Online you already have. It is checked for
    expiry and audience and cannot be renewed. -UserPrincipalName may be
    given too (the anchor mailbox and the account shown).

    .PARAMETER AppId
    The application (client) id: app-only sign-in with a certificate, or
    another public client for a delegated sign-in.

    .PARAMETER BypassMailboxAnchoring
    Accepted and ignored: requests carry the anchor mailbox Exchange
    expects.

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
    The device code flow: a code to enter on another device. The way in
    over SSH.

    .PARAMETER DisableWAM
    Accepted and ignored: there is no Web Account Manager here.

    .PARAMETER EnableErrorReporting
    Accepted and ignored: errors are PowerShell error records.

    .PARAMETER EXOModuleBasePath
    Accepted and ignored: no temporary module is written to disk.

    .PARAMETER InlineCredential
    Asks for the user name and password in the console (accounts without
    MFA).

    .PARAMETER LoadCmdletHelp
    Accepted and ignored: help is always there.

    .PARAMETER LogDirectoryPath
    Accepted and ignored: ExchangeMfa writes no log files.

    .PARAMETER LogLevel
    Accepted and ignored (Default or All).

    .PARAMETER ManagedIdentity
    Signs in as the managed identity of the Azure resource. Needs
    -Organization.

    .PARAMETER ManagedIdentityAccountId
    A user-assigned managed identity's client id or resource id.

    .PARAMETER Organization
    The tenant (contoso.onmicrosoft.com or a tenant id). Required for
    app-only and managed identity sign-ins.

    .PARAMETER PageSize
    Objects per page, 1 to 1000 (default 1000).

    .PARAMETER ThrottleLimit
    ExchangeMfa's own: requests kept in flight for pipeline input, 1 to 64
    (default 8). See Connect-ExchangeMfa.

    .PARAMETER ShowBanner
    The banner is shown by default; -ShowBanner:$false hides it.

    .PARAMETER ShowProgress
    Accepted and ignored.

    .PARAMETER SigningCertificate
    Accepted and ignored: nothing is written to disk to be signed.

    .PARAMETER SkipLoadingCmdletHelp
    Accepted and ignored.

    .PARAMETER SkipLoadingFormatData
    Accepted and ignored.

    .PARAMETER TrackPerformance
    Accepted and ignored.

    .PARAMETER UseMultithreading
    Accepted and ignored.

    .PARAMETER UserPrincipalName
    The account to sign in with (login hint, cache key, anchor mailbox).

    .PARAMETER UseRPSSession
    Remote PowerShell is retired: a warning is written and the connection
    uses REST. -UseRPSSession:$false is accepted silently.

    .EXAMPLE
    PS> Connect-ExchangeOnline -UserPrincipalName admin@contoso.onmicrosoft.com -Device -ShowBanner:$false
    PS> Get-Mailbox -ResultSize 10

    A script written for Microsoft's module, unchanged: device code sign-in,
    then the Exchange commands.

    .EXAMPLE
    PS> Connect-ExchangeOnline -AppId 8f2c... -Organization contoso.onmicrosoft.com -CertificateFilePath ./app.pfx -CertificatePassword $password

    App-only sign-in for an unattended script.

    .EXAMPLE
    PS> Connect-ExchangeOnline -AccessToken $token -UserPrincipalName admin@contoso.onmicrosoft.com -Organization contoso.onmicrosoft.com

    Uses a token from elsewhere; the UPN becomes the anchor mailbox.

    .INPUTS
    None.

    .OUTPUTS
    None. Get-ConnectionInformation lists the connection.

    .LINK
    Connect-ExchangeMfa

    .LINK
    Get-ConnectionInformation

    .LINK
    Disconnect-ExchangeOnline

    .LINK
    https://learn.microsoft.com/powershell/module/exchangepowershell/connect-exchangeonline
    #>
    [CmdletBinding()]
    [OutputType([void])]
    param(
        [Parameter(Position = 0)] [string] $ConnectionUri,
        [Parameter(Position = 1)] [string] $AzureADAuthorizationEndpointUri,
        [Parameter(Position = 2)]
        [ValidateSet('O365Default', 'O365USGovGCCHigh', 'O365USGovDoD', 'O365China')]
        [string] $ExchangeEnvironmentName,
        [Parameter(Position = 3)] [System.Management.Automation.Remoting.PSSessionOption] $PSSessionOption,
        [Parameter(Position = 4)] [string] $DelegatedOrganization,
        [Parameter(Position = 5)] [string] $Prefix,
        [Parameter(Position = 6)] [string[]] $CommandName,
        [Parameter(Position = 7)] [string[]] $FormatTypeName,
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
        [string] $EXOModuleBasePath,
        [switch] $InlineCredential,
        [switch] $LoadCmdletHelp,
        [string] $LogDirectoryPath,
        [ValidateSet('Default', 'All')] [string] $LogLevel,
        [switch] $ManagedIdentity,
        [string] $ManagedIdentityAccountId,
        [string] $Organization,
        [uint32] $PageSize,
        [switch] $ShowBanner,
        [bool] $ShowProgress,
        [ValidateRange(1, 64)] [int] $ThrottleLimit,
        [System.Security.Cryptography.X509Certificates.X509Certificate2] $SigningCertificate,
        [switch] $SkipLoadingCmdletHelp,
        [switch] $SkipLoadingFormatData,
        [bool] $TrackPerformance,
        [bool] $UseMultithreading,
        [string] $UserPrincipalName,
        [switch] $UseRPSSession
    )
    Import-ExchangeMfaRuntime
    $connect = ConvertTo-ExchangeMfaConnectParameters -Bound $PSBoundParameters -Cmdlet $PSCmdlet
    $null = Connect-ExchangeMfa @connect
}
