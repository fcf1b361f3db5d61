function Connect-ExchangeMfa {
    <#
    .SYNOPSIS
    Signs in to Exchange Online with multi-factor authentication and opens a connection.

    .DESCRIPTION
    Connect-ExchangeMfa signs in to the Microsoft identity platform and opens a
    connection for the Exchange commands (Get-Mailbox, Set-Mailbox,
    Add-MailboxPermission and the rest of the module's catalogue), which
    the module provides from import on and loads on first use. Several
    connections can be open at once.

    Without -Prefix the connection becomes the default one, and the commands
    (Get-Mailbox ...) use the default connection. With -Prefix the commands
    are also available with the prefix in their noun (-Prefix Contoso:
    Get-ContosoMailbox), bound to this connection; the default connection
    does not change unless there was none. Every Exchange command also takes
    -ConnectionId to pick another connection for one call.

    How it signs in depends on the parameters (one parameter set each):

    - nothing special (the default): the browser sign-in. The system browser
      ($BROWSER, else xdg-open or open) shows Microsoft's sign-in page, MFA
      included; the answer comes back to http://localhost:<port>, a listener
      on this computer's loopback addresses only. The address is always
      printed too; -NoBrowser only prints it.
    - -Device: the device code flow. The command shows a code and a web
      address; open the address on any device (a phone, another computer),
      enter the code and complete the sign-in there, including the MFA step.
      This works over SSH and on machines without a browser.
    - -Credential or -InlineCredential: user name and password, for
      accounts without MFA only. An MFA account gives the error
      ExchangeMfa.MfaRequired, which says to use -Device or the browser.
    - -AppId, -Organization and a certificate (-CertificateFilePath,
      -Certificate or -CertificateThumbprint): app-only sign-in for
      unattended scripts, with a signed client assertion.
    - -ManagedIdentity: the managed identity of the Azure resource the
      script runs on (App Service, Functions, Automation, virtual machines).
    - -FederatedToken: workload identity federation (Kubernetes, CI), from
      AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID, AZURE_TENANT_ID and
      AZURE_AUTHORITY_HOST.
    - -AccessToken: a token you already have; it cannot be renewed.

    A delegated sign-in (browser, device code, password) with
    -UserPrincipalName first looks in the user's token cache: while a
    refresh token lives, a new PowerShell session connects without any
    prompt (SignInMode Silent). -InMemoryTokenCache keeps the connection's
    tokens out of the cache.

    Tokens stay inside the module's helper process and are renewed silently
    while the connection is open (except -AccessToken). They never appear in
    the returned object, in errors or in logs. Passwords and certificate
    keys go to the helper through its standard input only.

    .PARAMETER UserPrincipalName
    The account to sign in with, for example admin@contoso.onmicrosoft.com.
    It is sent as a login hint, selects the account in the token cache and
    is used as the anchor mailbox for Exchange requests.

    .PARAMETER Device
    Signs in with the device code flow: the command shows a code to enter at
    a web address on another device.

    .PARAMETER NoBrowser
    Browser sign-in without starting a browser: the command prints the
    sign-in address and waits (see -BrowserTimeoutSeconds) until the sign-in
    is completed in a browser on this computer.

    .PARAMETER BrowserTimeoutSeconds
    How long the browser sign-in waits for its answer, in seconds (1 to
    3600; default 120). When no answer comes, the error says what the
    browser may show instead (AADSTS50011, AADSTS65001) and suggests -Device.

    .PARAMETER RedirectUri
    The redirect URI of the browser sign-in, for an -AppId registered with
    another one than http://localhost (the default, which Microsoft's
    Exchange app uses): http://localhost, http://127.0.0.1 or http://[::1],
    with an optional port (by default any free one) and path, for example
    http://127.0.0.1. Microsoft Entra matches the host and path exactly and
    ignores the port of a loopback redirect URI.

    .PARAMETER Credential
    User name and password (a PSCredential) for an account without MFA.

    .PARAMETER InlineCredential
    Asks for the user name (unless -UserPrincipalName gives it) and the
    password in the console. For accounts without MFA.

    .PARAMETER CertificateFilePath
    App-only sign-in with a certificate file: a PFX file (with
    -CertificatePassword when it has one) or a PEM file holding the
    certificate and its private key (or the key in -CertificateKeyFilePath).

    .PARAMETER CertificatePassword
    The password of the PFX file, or of the encrypted PEM key.

    .PARAMETER CertificateKeyFilePath
    The PEM file with the private key, when it is not in the
    -CertificateFilePath file.

    .PARAMETER Certificate
    App-only sign-in with a certificate object (X509Certificate2) that has
    its private key. The key goes to the helper through its standard input,
    never through a file.

    .PARAMETER CertificateThumbprint
    App-only sign-in with a certificate found by its SHA-1 thumbprint: on
    Windows first in the certificate stores (CurrentUser\My, then
    LocalMachine\My), then in the certificate folder:
    $env:EXCHANGEMFA_CERTIFICATE_DIR (which skips the stores), else
    ~/.config/exchangemfa/certificates (%APPDATA%\ExchangeMfa\certificates
    on Windows): PEM files with the key, or PFX files without a password,
    readable by you only.

    .PARAMETER AssertionAlgorithm
    How the client assertion of a certificate sign-in is signed: PS256 (the
    default, with the x5t#S256 header) or RS256 (with x5t), for identity
    providers that need the older form.

    .PARAMETER ManagedIdentity
    Signs in with the managed identity of the Azure resource the script
    runs on (IDENTITY_ENDPOINT and IDENTITY_HEADER, else the instance
    metadata service). Needs -Organization.

    .PARAMETER ManagedIdentityAccountId
    The client id or resource id of a user-assigned managed identity.
    Without it the system-assigned identity is used.

    .PARAMETER FederatedToken
    Signs in with workload identity federation: the token in the file named
    by AZURE_FEDERATED_TOKEN_FILE (read again for every token request), for
    the app AZURE_CLIENT_ID in the tenant AZURE_TENANT_ID. -AppId and
    -Organization override those two.

    .PARAMETER AccessToken
    An access token for Exchange Online that you got elsewhere. It is
    checked for expiry and audience; when it expires the connection stops
    working, since it cannot be renewed.

    .PARAMETER InMemoryTokenCache
    Keeps this connection's tokens in the helper's memory only: nothing is
    read from or written to the token cache file.

    .PARAMETER Organization
    The tenant to sign in to: a domain such as contoso.onmicrosoft.com or a
    tenant id. Required for certificate and managed identity sign-ins.
    Without it a delegated sign-in uses the account's home tenant.

    .PARAMETER AppId
    The application (client) id. Required for certificate sign-ins (the
    app registration with the certificate). For delegated sign-ins the
    default is Microsoft's public client for Exchange Online PowerShell.

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

    .PARAMETER ThrottleLimit
    How many requests a command keeps in flight on this connection for
    pipeline input (Get-Mailbox | Get-MailboxStatistics), 1 to 64 (default
    8). Results still come out in input order; the helper sends fewer at
    once when Exchange throttles. A command's own -ThrottleLimit overrides it.

    .PARAMETER ShowBanner
    Shows a short banner before signing in. It is on by default; use
    -ShowBanner:$false to hide it.

    .PARAMETER Prefix
    A prefix for the nouns of this connection's commands: -Prefix Contoso
    makes Get-ContosoMailbox, Set-ContosoMailbox and so on (aliases of
    Get-Mailbox, Set-Mailbox), bound to this connection. Letters and digits
    only; EXO is reserved (Microsoft's module uses it). Connecting again with
    the same prefix moves the commands to the new connection.

    .PARAMETER CommandName
    Exchange command names (for example Get-Mailbox, Set-Mailbox), checked
    against the catalogue before signing in. With -Prefix only these get a
    prefixed name; without it every command is available anyway.

    .PARAMETER DelegatedOrganization
    The customer tenant to manage, for partners who administer other
    organizations (a domain such as fabrikam.onmicrosoft.com). Requests go
    to that tenant's Exchange endpoint with the partner's sign-in.

    .PARAMETER Resource
    The resource the access token is for, when it is not the environment's
    Exchange Online resource (for example https://outlook.office365.com).

    .PARAMETER Product
    Internal, for Connect-IPPSSession: SecurityCompliance signs in to the
    Security & Compliance endpoint instead of Exchange Online
    (ExchangeOnline, the default). Use Connect-IPPSSession instead.

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

    .EXAMPLE
    PS> Connect-ExchangeMfa -UserPrincipalName admin@contoso.onmicrosoft.com

    Opens the sign-in page in the browser of this computer; the address is
    printed too. The next PowerShell session connects without a prompt.

    .EXAMPLE
    PS> Connect-ExchangeMfa -UserPrincipalName admin@contoso.onmicrosoft.com -AppId 7a1c... -RedirectUri http://127.0.0.1

    Browser sign-in with your own app, registered in Microsoft Entra with
    the redirect URI http://127.0.0.1 (any port) instead of http://localhost.

    .EXAMPLE
    PS> Connect-ExchangeMfa -AppId 8f2c... -Organization contoso.onmicrosoft.com -CertificateFilePath ./app.pfx -CertificatePassword (Read-Host -AsSecureString)

    App-only sign-in with a PFX file, for scheduled scripts.

    .EXAMPLE
    PS> Connect-ExchangeMfa -ManagedIdentity -Organization contoso.onmicrosoft.com

    Signs in as the managed identity of the Azure resource (an Automation
    account, a function app).

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
    [CmdletBinding(DefaultParameterSetName = 'Interactive')]
    [OutputType('ExchangeMfa.Connection')]
    param(
        [Parameter(Position = 0, ParameterSetName = 'Interactive')]
        [Parameter(Position = 0, ParameterSetName = 'Device')]
        [Parameter(Position = 0, ParameterSetName = 'InlineCredential')]
        [Parameter(Position = 0, ParameterSetName = 'AccessToken')]
        [ValidateNotNullOrEmpty()]
        [string] $UserPrincipalName,

        [Parameter(Mandatory, ParameterSetName = 'Device')]
        [switch] $Device,

        [Parameter(ParameterSetName = 'Interactive')]
        [switch] $NoBrowser,

        [Parameter(ParameterSetName = 'Interactive')]
        [ValidateRange(1, 3600)]
        [int] $BrowserTimeoutSeconds,

        [Parameter(ParameterSetName = 'Interactive')]
        [ValidateNotNullOrEmpty()]
        [string] $RedirectUri,

        [Parameter(Mandatory, ParameterSetName = 'Credential')]
        [pscredential] $Credential,

        [Parameter(Mandatory, ParameterSetName = 'InlineCredential')]
        [switch] $InlineCredential,

        [Parameter(ParameterSetName = 'Interactive')]
        [Parameter(ParameterSetName = 'Device')]
        [Parameter(ParameterSetName = 'Credential')]
        [Parameter(ParameterSetName = 'InlineCredential')]
        [Parameter(Mandatory, ParameterSetName = 'CertificateFile')]
        [Parameter(Mandatory, ParameterSetName = 'Certificate')]
        [Parameter(Mandatory, ParameterSetName = 'CertificateThumbprint')]
        [Parameter(Mandatory, ParameterSetName = 'ManagedIdentity')]
        [Parameter(ParameterSetName = 'FederatedToken')]
        [Parameter(ParameterSetName = 'AccessToken')]
        [ValidateNotNullOrEmpty()]
        [string] $Organization,

        [Parameter(ParameterSetName = 'Interactive')]
        [Parameter(ParameterSetName = 'Device')]
        [Parameter(ParameterSetName = 'Credential')]
        [Parameter(ParameterSetName = 'InlineCredential')]
        [Parameter(Mandatory, ParameterSetName = 'CertificateFile')]
        [Parameter(Mandatory, ParameterSetName = 'Certificate')]
        [Parameter(Mandatory, ParameterSetName = 'CertificateThumbprint')]
        [Parameter(ParameterSetName = 'FederatedToken')]
        [ValidateNotNullOrEmpty()]
        [string] $AppId,

        [Parameter(Mandatory, ParameterSetName = 'CertificateFile')]
        [ValidateNotNullOrEmpty()]
        [string] $CertificateFilePath,

        [Parameter(ParameterSetName = 'CertificateFile')]
        [securestring] $CertificatePassword,

        [Parameter(ParameterSetName = 'CertificateFile')]
        [ValidateNotNullOrEmpty()]
        [string] $CertificateKeyFilePath,

        [Parameter(Mandatory, ParameterSetName = 'Certificate')]
        [System.Security.Cryptography.X509Certificates.X509Certificate2] $Certificate,

        [Parameter(Mandatory, ParameterSetName = 'CertificateThumbprint')]
        [ValidateNotNullOrEmpty()]
        [string] $CertificateThumbprint,

        [Parameter(ParameterSetName = 'CertificateFile')]
        [Parameter(ParameterSetName = 'Certificate')]
        [Parameter(ParameterSetName = 'CertificateThumbprint')]
        [ValidateSet('PS256', 'RS256')]
        [string] $AssertionAlgorithm,

        [Parameter(Mandatory, ParameterSetName = 'ManagedIdentity')]
        [switch] $ManagedIdentity,

        [Parameter(ParameterSetName = 'ManagedIdentity')]
        [ValidateNotNullOrEmpty()]
        [string] $ManagedIdentityAccountId,

        [Parameter(Mandatory, ParameterSetName = 'FederatedToken')]
        [switch] $FederatedToken,

        [Parameter(Mandatory, ParameterSetName = 'AccessToken')]
        [ValidateNotNullOrEmpty()]
        [string] $AccessToken,

        [Parameter(ParameterSetName = 'Interactive')]
        [Parameter(ParameterSetName = 'Device')]
        [Parameter(ParameterSetName = 'Credential')]
        [Parameter(ParameterSetName = 'InlineCredential')]
        [switch] $InMemoryTokenCache,

        [ValidateNotNullOrEmpty()]
        [string] $ConnectionUri,

        [ValidateNotNullOrEmpty()]
        [string] $AzureADAuthorizationEndpointUri,

        [ValidateSet('O365Default', 'O365USGovGCCHigh', 'O365USGovDoD', 'O365China')]
        [string] $ExchangeEnvironmentName = 'O365Default',

        [ValidateRange(1, 1000)]
        [int] $PageSize,

        [ValidateRange(1, 64)]
        [int] $ThrottleLimit,

        [switch] $ShowBanner,

        [ValidateNotNullOrEmpty()]
        [string] $Resource,

        [ValidatePattern('^[a-zA-Z0-9]+$')]
        [ValidateScript({ $_ -ne 'EXO' }, ErrorMessage = 'The prefix EXO is reserved for Microsoft''s module.')]
        [string] $Prefix,

        [ValidateNotNullOrEmpty()]
        [string[]] $CommandName,

        [ValidateNotNullOrEmpty()]
        [string] $DelegatedOrganization,

        # Connect-IPPSSession's way in (docs/compliance.md): the same sign-in
        # for the Security & Compliance endpoint. Not for direct use.
        [Parameter(DontShow)]
        [ValidateSet('ExchangeOnline', 'SecurityCompliance')]
        [string] $Product = 'ExchangeOnline'
    )
    # The functions behind -Prefix and -CommandName are parsed only when
    # they are used (ExchangeMfa.psm1). A -CommandName typo fails before
    # anybody signs in.
    if ($Prefix -or $CommandName) { Import-ExchangeMfaRuntime }
    if ($CommandName) { $null = Resolve-ExchangeCommandName -Name $CommandName -Cmdlet $PSCmdlet }

    # The sign-in and the default connections: compiled (module/Types/SignIn.cs),
    # so a Connect from a cached token runs no other script.
    $session = [ExchangeMfa.SignIn]::Connect($PSCmdlet, $PSBoundParameters)

    if ($Prefix -or $CommandName) {
        # Not $organization: PowerShell names are case-insensitive, and the
        # validated -Organization parameter refuses an empty value.
        $urlTenant = if ($DelegatedOrganization) { $DelegatedOrganization } else { [string]$session.organization }
        Import-ExchangeProxyModule -ConnectionId ([string]$session.connectionId) -Prefix $Prefix -CommandName $CommandName `
            -Organization $urlTenant -Product $Product -Cmdlet $PSCmdlet
    }
    [ExchangeMfa.Connections]::ToConnection($session, [string]$Prefix)
}
