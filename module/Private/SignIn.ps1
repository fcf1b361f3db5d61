# The sign-in half of Connect-ExchangeMfa: its parameter set -> the helper's
# `connect` params (docs/protocol.md, "Sign-in modes"), and the wait for the
# answer with the notifications a sign-in sends on the way.

# How long the browser sign-in waits for its answer when
# -BrowserTimeoutSeconds is not given (the helper's timeoutSeconds). Two
# minutes cover a password and an MFA approval; a sign-in stopped at an
# error page in the browser (AADSTS50011, 65001) then says so soon instead
# of after five. Module state so that tests can shorten it.
$script:InteractiveTimeoutSeconds = 120

# Parameter set -> the helper's mode.
$script:SignInModeBySet = @{
    Interactive           = 'interactive'
    Device                = 'device'
    Credential            = 'password'
    InlineCredential      = 'password'
    CertificateFile       = 'certificate'
    Certificate           = 'certificate'
    CertificateThumbprint = 'certificate'
    ManagedIdentity       = 'managedIdentity'
    FederatedToken        = 'federated'
    AccessToken           = 'accessToken'
}

function Read-InlineCredential {
    # -InlineCredential: the user name (unless given) and the password,
    # typed in the console; the password never exists as a plain string.
    param([string] $UserPrincipalName)
    if (-not $UserPrincipalName) { $UserPrincipalName = Read-Host -Prompt 'User name (user@contoso.onmicrosoft.com)' }
    $password = Read-Host -Prompt "Password for $UserPrincipalName" -AsSecureString
    [pscustomobject]@{ UserName = $UserPrincipalName; Password = $password }
}

function ConvertTo-CertificateData {
    # An X509Certificate2 with its private key -> PFX bytes under a random
    # one-time password, as base64 in a char array (the caller's request
    # writer clears it) plus that password as a SecureString. The key
    # crosses the helper's stdin only: no file, no argument, no plain string.
    param(
        [Parameter(Mandatory)] [System.Security.Cryptography.X509Certificates.X509Certificate2] $Certificate,
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Cmdlet
    )
    if (-not $Certificate.HasPrivateKey) {
        $record = New-ExchangeMfaErrorRecord -Name InvalidParams -TargetObject $Certificate.Thumbprint `
            -Message "The certificate $($Certificate.Thumbprint) ($($Certificate.Subject)) has no private key; app-only sign-in needs one."
        $Cmdlet.ThrowTerminatingError($record)
    }
    $password = [securestring]::new()
    $random = [byte[]]::new(24)
    [System.Security.Cryptography.RandomNumberGenerator]::Fill($random)
    $alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
    foreach ($b in $random) { $password.AppendChar($alphabet[$b % $alphabet.Length]) }
    [array]::Clear($random, 0, $random.Length)
    $password.MakeReadOnly()

    $bytes = $null
    try {
        $bytes = $Certificate.Export([System.Security.Cryptography.X509Certificates.X509ContentType]::Pkcs12, $password)
    }
    catch {
        $record = New-ExchangeMfaErrorRecord -Name InvalidParams -TargetObject $Certificate.Thumbprint `
            -Message "The private key of certificate $($Certificate.Thumbprint) cannot be exported: $($_.Exception.Message)"
        $Cmdlet.ThrowTerminatingError($record)
    }
    try {
        $chars = [char[]]::new(4 * [math]::Ceiling($bytes.Length / 3))
        [void][Convert]::ToBase64CharArray($bytes, 0, $bytes.Length, $chars, 0)
    }
    finally {
        [array]::Clear($bytes, 0, $bytes.Length)
    }
    [pscustomobject]@{ Data = $chars; Password = $password }
}

function New-ConnectParameters {
    # Connect-ExchangeMfa's bound parameters -> the `connect` params. Secrets
    # stay SecureString or char[]: Send-HelperRequest makes them plain only
    # while writing the line to the helper.
    param(
        [Parameter(Mandatory)] [string] $ParameterSetName,
        [Parameter(Mandatory)] [System.Collections.IDictionary] $Bound,
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Cmdlet
    )
    $environment = if ($Bound.ContainsKey('ExchangeEnvironmentName')) { $Bound.ExchangeEnvironmentName } else { 'O365Default' }
    $params = [ordered]@{ mode = $script:SignInModeBySet[$ParameterSetName]; environment = $environment }
    $copy = [ordered]@{
        UserPrincipalName               = 'userPrincipalName'
        Organization                    = 'organization'
        AppId                           = 'appId'
        ConnectionUri                   = 'connectionUri'
        AzureADAuthorizationEndpointUri = 'authority'
        Resource                        = 'resource'
        DelegatedOrganization           = 'delegatedOrganization'
        PageSize                        = 'pageSize'
        ThrottleLimit                   = 'throttleLimit'
        CertificateFilePath             = 'certificateFilePath'
        CertificateKeyFilePath          = 'certificateKeyFilePath'
        CertificatePassword             = 'certificatePassword'
        CertificateThumbprint           = 'certificateThumbprint'
        AssertionAlgorithm              = 'assertionAlgorithm'
        ManagedIdentityAccountId        = 'managedIdentityAccountId'
        AccessToken                     = 'accessToken'
    }
    foreach ($name in $copy.Keys) {
        if ($Bound.ContainsKey($name)) { $params[$copy[$name]] = $Bound[$name] }
    }
    # Paths are the caller's, relative to PowerShell's location, not the helper's.
    foreach ($field in 'certificateFilePath', 'certificateKeyFilePath') {
        if ($params.Contains($field)) { $params[$field] = $Cmdlet.GetUnresolvedProviderPathFromPSPath($params[$field]) }
    }
    if ($Bound.InMemoryTokenCache) { $params.tokenCache = 'memory' }
    if ($Bound.Product -eq 'SecurityCompliance') { $params.product = 'compliance' }

    switch ($ParameterSetName) {
        'Interactive' {
            $params.noBrowser = [bool]$Bound.NoBrowser
            $params.timeoutSeconds = if ($Bound.ContainsKey('BrowserTimeoutSeconds')) { $Bound.BrowserTimeoutSeconds } else { $script:InteractiveTimeoutSeconds }
            if ($Bound.ContainsKey('RedirectUri')) { $params.redirectUri = $Bound.RedirectUri }
        }
        'Credential' {
            $params.userPrincipalName = $Bound.Credential.UserName
            $params.password = $Bound.Credential.Password
        }
        'InlineCredential' {
            $typed = Read-InlineCredential -UserPrincipalName $Bound.UserPrincipalName
            $params.userPrincipalName = $typed.UserName
            $params.password = $typed.Password
        }
        'Certificate' {
            $export = ConvertTo-CertificateData -Certificate $Bound.Certificate -Cmdlet $Cmdlet
            $params.certificateData = $export.Data
            $params.certificatePassword = $export.Password
        }
    }
    $params
}

function Write-BrowserUrl {
    # The sign-in address, always shown as a line the user can open by hand
    # (also when a browser was started), and as an ExchangeMfa.BrowserUrl
    # object on the information stream for scripts and tests.
    param([string] $Url, [bool] $NoBrowser)
    $text = if ($NoBrowser) {
        "To sign in, open this address in a browser on this computer: $Url"
    }
    else {
        "A browser was asked to open the sign-in page. If none opened, open this address on this computer: $Url"
    }
    Write-Host $text
    $info = [pscustomobject]@{ PSTypeName = 'ExchangeMfa.BrowserUrl'; Url = $Url; Message = $text }
    $info | Add-Member -MemberType ScriptMethod -Name ToString -Value { $this.Message } -Force
    Write-Information -MessageData $info -Tags 'ExchangeMfa', 'BrowserUrl'
}

function Write-DeviceCode {
    # The device code message (Write-Host, so it shows even when the output
    # is captured) and an ExchangeMfa.DeviceCode object on the information
    # stream. Returns the code's lifetime in seconds.
    param($Code)
    $text = [string]$Code.message
    if (-not $text) { $text = "To sign in, open $($Code.verificationUri) and enter the code $($Code.userCode)." }
    Write-Host $text
    $info = [pscustomobject]@{
        PSTypeName      = 'ExchangeMfa.DeviceCode'
        UserCode        = [string]$Code.userCode
        VerificationUri = [string]$Code.verificationUri
        ExpiresIn       = [int]$Code.expiresIn
        Interval        = [int]$Code.interval
        Message         = $text
    }
    $info | Add-Member -MemberType ScriptMethod -Name ToString -Value { $this.Message } -Force
    Write-Information -MessageData $info -Tags 'ExchangeMfa', 'DeviceCode'
    [int]$Code.expiresIn
}

function Set-BrowserSignInAdvice {
    # A browser sign-in that got no answer most likely stopped at an error
    # page in the browser: say which ones and the ways around them, instead
    # of the generic advice for a network timeout.
    param([Parameter(Mandatory)] [System.Management.Automation.ErrorRecord] $Record)
    if ($Record.FullyQualifiedErrorId -ne 'ExchangeMfa.Timeout' -or -not $Record.ErrorDetails) { return }
    $Record.ErrorDetails.RecommendedAction = 'If the browser showed AADSTS50011, the app is not registered for the ' +
        'redirect URI sent: register http://localhost, or give the registered one with -RedirectUri (for example ' +
        'http://127.0.0.1). If it showed AADSTS65001, an administrator has to consent to the app. Otherwise sign ' +
        'in with -Device, or allow more time with -BrowserTimeoutSeconds.'
}

function Invoke-HelperConnect {
    # Sends `connect` and waits for its reply, showing the notifications on
    # the way. Returns the reply message. A stopped command (Ctrl+C) cancels
    # the sign-in in the helper, which closes a browser sign-in's listener.
    param(
        [Parameter(Mandatory)] [hashtable] $Helper,
        [Parameter(Mandatory)] [System.Collections.IDictionary] $Params,
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Cmdlet
    )
    $id = Send-HelperRequest -Helper $Helper -Method connect -Params $Params -Cmdlet $Cmdlet
    $reply = $null
    # Until a code or a sign-in page arrives the helper only talks to
    # services (managed identity retries take up to a minute); afterwards
    # the user's time bounds the wait.
    $timeout = $script:RequestTimeoutSeconds + 90
    try {
        while ($null -eq $reply) {
            $message = Receive-HelperMessage $Helper $id $timeout $Cmdlet
            switch ([string]$message.method) {
                'deviceCode' { $timeout = (Write-DeviceCode $message.params) + 60 }
                'browserUrl' {
                    Write-BrowserUrl -Url ([string]$message.params.url) -NoBrowser ([bool]$Params.noBrowser)
                    $timeout = $Params.timeoutSeconds + 60
                }
                'warning' { $Cmdlet.WriteWarning([string]$message.params.message) }
                '' { $reply = $message }
            }
        }
    }
    finally {
        Complete-HelperRequest -Helper $Helper -Id $id -Cancel:($null -eq $reply)
        Read-HelperStderr -Helper $Helper
    }
    $reply
}
