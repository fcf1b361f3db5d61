# Shared setup for the Pester tests: starts the project's emulator (identity
# platform + Exchange admin REST on 127.0.0.1), talks to its control
# endpoints with TLS verified against its throwaway CA, and stops it.

$script:RepoRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
$script:Emulator = $null
$script:Http = $null

function Get-RepoRoot { $script:RepoRoot }

function Start-NodeServer {
    # Starts `node <Script> <Arguments>` in a fresh state folder, reads its
    # ready line (JSON), points the helper at the server's throwaway CA
    # (EXCHANGEMFA_CA_FILE) and its token cache into the folder, and makes
    # an HttpClient that trusts that CA only, for control requests.
    # Returns { Ready, Process, Http, Dir, Log }; Stop-NodeServer undoes it.
    param(
        [Parameter(Mandatory)] [string] $Script,
        [string[]] $Arguments = @(),
        [Parameter(Mandatory)] [string] $Name
    )
    if (-not (Test-Path $Script)) { throw "The $Name is missing: $Script" }
    $dir = Join-Path ([System.IO.Path]::GetTempPath()) "exchangemfa-$Name-$([guid]::NewGuid().ToString('n').Substring(0, 12))"
    New-Item -ItemType Directory -Path $dir | Out-Null
    $log = Join-Path $dir "$Name.log"

    # The server logs to stderr: a file keeps test output readable and its
    # pipe from filling up. stdin stays open: the server exits when it closes.
    $startInfo = [System.Diagnostics.ProcessStartInfo]::new('/bin/sh')
    foreach ($arg in @('-c', 'exec node "$@" 2>>"$SERVER_LOG"', 'sh', $Script, '--dir', $dir) + $Arguments) {
        $startInfo.ArgumentList.Add([string]$arg)
    }
    $startInfo.Environment['SERVER_LOG'] = $log
    $startInfo.UseShellExecute = $false
    $startInfo.RedirectStandardInput = $true
    $startInfo.RedirectStandardOutput = $true
    $process = [System.Diagnostics.Process]::Start($startInfo)

    $read = $process.StandardOutput.ReadLineAsync()
    if (-not $read.Wait(30000) -or $null -eq $read.Result) {
        try { $process.Kill($true) } catch { $null = $_ }
        $text = Get-Content $log -Raw -ErrorAction Ignore
        Remove-Item -Recurse -Force $dir -ErrorAction Ignore
        throw "The $Name did not start: $text"
    }
    $ready = $read.Result | ConvertFrom-Json
    $env:EXCHANGEMFA_CA_FILE = $ready.caFile
    # The emulator's stand-in for Exchange's SecureString key (docs/exchange.md).
    if ($ready.exoPublicKeyFile) { $env:EXCHANGEMFA_EXO_PUBLIC_KEY = $ready.exoPublicKeyFile }
    # The helper's token cache goes into the test folder, never the user's.
    $env:EXCHANGEMFA_CACHE_DIR = Join-Path $dir 'cache'

    $ca = [System.Security.Cryptography.X509Certificates.X509Certificate2]::CreateFromPem((Get-Content $ready.caFile -Raw))
    $handler = [System.Net.Http.SocketsHttpHandler]::new()
    $policy = [System.Security.Cryptography.X509Certificates.X509ChainPolicy]::new()
    $policy.TrustMode = [System.Security.Cryptography.X509Certificates.X509ChainTrustMode]::CustomRootTrust
    $policy.RevocationMode = [System.Security.Cryptography.X509Certificates.X509RevocationMode]::NoCheck
    [void]$policy.CustomTrustStore.Add($ca)
    $handler.SslOptions.CertificateChainPolicy = $policy
    $http = [System.Net.Http.HttpClient]::new($handler)
    $http.Timeout = [timespan]::FromSeconds(30)

    [pscustomobject]@{ Ready = $ready; Process = $process; Http = $http; Dir = $dir; Log = $log }
}

function Stop-NodeServer {
    # Closes the server's stdin (it exits), kills it after 5 s, and removes
    # its folder, its HttpClient and the variables Start-NodeServer set.
    param([Parameter(Mandatory)] $Process, [Parameter(Mandatory)] [string] $Dir, $Http)
    try {
        $Process.StandardInput.Close()
        if (-not $Process.WaitForExit(5000)) { $Process.Kill($true) }
    }
    catch { $null = $_ }
    if ($Http) { $Http.Dispose() }
    Remove-Item -Recurse -Force $Dir -ErrorAction Ignore
    Remove-Item Env:EXCHANGEMFA_CA_FILE -ErrorAction Ignore
    Remove-Item Env:EXCHANGEMFA_CACHE_DIR -ErrorAction Ignore
    Remove-Item Env:EXCHANGEMFA_EXO_PUBLIC_KEY -ErrorAction Ignore
}

function Start-TestEmulator {
    # Starts the emulator (tests/emulator/server.mjs) with Start-NodeServer.
    # Devices poll every second so the tests do not wait 5 s per sign-in.
    param(
        [int] $Mailboxes = 2500,
        [string] $AutoApprove = 'admin@contoso.onmicrosoft.com',
        [string[]] $ExtraArguments = @()
    )
    $arguments = @('--mailboxes', $Mailboxes, '--device-interval', '1') + $ExtraArguments
    if ($AutoApprove) { $arguments += @('--auto-approve', $AutoApprove) }
    $server = Start-NodeServer -Script (Join-Path $script:RepoRoot 'tests/emulator/server.mjs') -Arguments $arguments -Name emulator
    $ready = $server.Ready
    $script:Http = $server.Http

    $script:Emulator = [pscustomobject]@{
        Url       = $ready.url
        CaFile    = $ready.caFile
        Authority = $ready.authority
        TenantId  = $ready.tenantId
        Domain    = $ready.domain
        Dir       = $server.Dir
        Process   = $server.Process
        Log       = $server.Log
        # App-only and managed identity (issue 4).
        AppId                   = $ready.appId
        AppCertFile             = $ready.appCertFile
        AppKeyFile              = $ready.appKeyFile
        IdentityEndpoint        = $ready.identityEndpoint
        IdentityHeader          = $ready.identityHeader
        ImdsEndpoint            = $ready.imdsEndpoint
        ManagedIdentityClientId = $ready.managedIdentityClientId
    }
    $script:Emulator
}

function Stop-TestEmulator {
    $emulator = $script:Emulator
    if (-not $emulator) { return }
    $script:Emulator = $null
    Stop-NodeServer -Process $emulator.Process -Dir $emulator.Dir -Http $script:Http
    $script:Http = $null
}

function Start-TestSession {
    # The usual BeforeAll of a test file: the emulator, and the module
    # imported afresh (-Force stops a helper an earlier file left). Returns
    # the emulator.
    param([int] $Mailboxes = 2500)
    $emulator = Start-TestEmulator -Mailboxes $Mailboxes
    Import-Module (Join-Path $script:RepoRoot 'ExchangeMfa.psd1') -Force -Global
    $emulator
}

function Stop-TestSession {
    # The usual AfterAll: disconnect, remove the module, stop the emulator
    # (even when the module cannot disconnect).
    try {
        Disconnect-ExchangeMfa -Confirm:$false -ErrorAction Ignore
        Remove-Module ExchangeMfa -ErrorAction Ignore
    }
    finally { Stop-TestEmulator }
}

function Invoke-EmulatorControl {
    # POST (or GET) /_emulator/<Path> with a JSON body; returns the answer.
    param(
        [Parameter(Mandatory)] [string] $Path,
        [object] $Body,
        [ValidateSet('GET', 'POST')] [string] $Method = 'POST'
    )
    $uri = "$($script:Emulator.Url)/_emulator/$Path"
    $response = if ($Method -eq 'GET') {
        $script:Http.GetAsync($uri).GetAwaiter().GetResult()
    }
    else {
        $json = if ($null -ne $Body) { ConvertTo-Json -InputObject $Body -Depth 10 -Compress } else { '{}' }
        $content = [System.Net.Http.StringContent]::new($json, [System.Text.Encoding]::UTF8, 'application/json')
        $script:Http.PostAsync($uri, $content).GetAwaiter().GetResult()
    }
    $text = $response.Content.ReadAsStringAsync().GetAwaiter().GetResult()
    if (-not $response.IsSuccessStatusCode) { throw "Emulator $Path answered $([int]$response.StatusCode): $text" }
    if ($text) { $text | ConvertFrom-Json } else { $null }
}

function Set-EmulatorConfig {
    param([Parameter(Mandatory)] [hashtable] $Settings)
    Invoke-EmulatorControl -Path config -Body $Settings | Out-Null
}

function Get-EmulatorStats { Invoke-EmulatorControl -Path stats -Method GET }

function Reset-Emulator {
    # Counters and faults back to start, and the settings tests change.
    Invoke-EmulatorControl -Path reset | Out-Null
    Set-EmulatorConfig @{ tokenLifetime = 3600; deviceInterval = 1; deviceExpires = 900; pageDelayMs = 0
        autoApprove = 'admin@contoso.onmicrosoft.com'; autoApproveDelayMs = 0 }
}

function Get-TestConnectParameters {
    # Connect-ExchangeMfa parameters that point the helper at the emulator.
    param([string] $UserPrincipalName = 'admin@contoso.onmicrosoft.com')
    # Memory only: a test that signs in twice must see two sign-ins, not a
    # silent one from the cache (Cache.Tests.ps1 tests the cache itself).
    @{
        UserPrincipalName               = $UserPrincipalName
        Device                          = $true
        InMemoryTokenCache              = $true
        ShowBanner                      = $false
        AzureADAuthorizationEndpointUri = $script:Emulator.Authority
        ConnectionUri                   = $script:Emulator.Url
    }
}

function Invoke-ChildPwsh {
    # Runs a script in a new pwsh process and returns its output. pwsh may
    # be a .NET tool (dotnet + pwsh.dll) or a native launcher.
    param([Parameter(Mandatory)] [string] $Command)
    $exe = [Environment]::ProcessPath
    $prefix = @()
    if ((Split-Path $exe -Leaf) -in 'dotnet', 'dotnet.exe') { $prefix = @([Environment]::GetCommandLineArgs()[0]) }
    $encoded = [Convert]::ToBase64String([Text.Encoding]::Unicode.GetBytes($Command))
    & $exe @prefix -NoProfile -NonInteractive -EncodedCommand $encoded
}

function Get-TestHelperProcessId {
    # The running helper's process id, read from the module's state.
    if (-not (Get-Module ExchangeMfa)) { return $null }
    $helper = [ExchangeMfa.Helper]::Current
    if ($helper) { $helper.Process.Id }
}

function ConvertTo-Base64Url([byte[]] $Bytes) {
    [Convert]::ToBase64String($Bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_')
}

function New-TestClientAssertion {
    # A client assertion for the emulator's contoso app, signed with its key
    # (app-key.pem): what a federated token file or a certificate sign-in
    # sends. The emulator checks it like Microsoft does (signature, iss/sub,
    # aud = the tenant's token endpoint, lifetime, single-use jti).
    # -AgeSeconds: issued that long ago (an expired one: older than its lifetime).
    param(
        [ValidateSet('PS256', 'RS256')] [string] $Algorithm = 'PS256',
        [int] $LifetimeSeconds = 600,
        [int] $AgeSeconds = 0,
        [string] $Audience = "$($script:Emulator.Url)/$($script:Emulator.TenantId)/oauth2/v2.0/token"
    )
    $emulator = $script:Emulator
    $certificate = [System.Security.Cryptography.X509Certificates.X509Certificate2]::CreateFromPemFile($emulator.AppCertFile, $emulator.AppKeyFile)
    try {
        $der = $certificate.RawData
        $header = [ordered]@{ alg = $Algorithm; typ = 'JWT' }
        if ($Algorithm -eq 'PS256') { $header['x5t#S256'] = ConvertTo-Base64Url ([System.Security.Cryptography.SHA256]::HashData($der)) }
        else { $header.x5t = ConvertTo-Base64Url ([System.Security.Cryptography.SHA1]::HashData($der)) }
        $issued = [DateTimeOffset]::UtcNow.ToUnixTimeSeconds() - $AgeSeconds
        $claims = [ordered]@{ aud = $Audience; iss = $emulator.AppId; sub = $emulator.AppId
            jti = [guid]::NewGuid().ToString(); nbf = $issued; iat = $issued; exp = $issued + $LifetimeSeconds }
        $utf8 = [System.Text.Encoding]::UTF8
        $body = (ConvertTo-Base64Url $utf8.GetBytes((ConvertTo-Json $header -Compress))) + '.' +
            (ConvertTo-Base64Url $utf8.GetBytes((ConvertTo-Json $claims -Compress)))
        $padding = if ($Algorithm -eq 'PS256') { [System.Security.Cryptography.RSASignaturePadding]::Pss }
        else { [System.Security.Cryptography.RSASignaturePadding]::Pkcs1 }
        $rsa = [System.Security.Cryptography.X509Certificates.RSACertificateExtensions]::GetRSAPrivateKey($certificate)
        $signature = $rsa.SignData($utf8.GetBytes($body), [System.Security.Cryptography.HashAlgorithmName]::SHA256, $padding)
        "$body.$(ConvertTo-Base64Url $signature)"
    }
    finally { $certificate.Dispose() }
}

function Get-TestAppAccessToken {
    # An app-only access token from the emulator (client credentials with a
    # fresh assertion), for the -AccessToken tests. Test data: never printed.
    param([string] $Scope = 'https://outlook.office365.com/.default')
    $fields = [System.Collections.Generic.Dictionary[string, string]]::new()
    $fields['grant_type'] = 'client_credentials'
    $fields['client_id'] = $script:Emulator.AppId
    $fields['scope'] = $Scope
    $fields['client_assertion_type'] = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'
    $fields['client_assertion'] = New-TestClientAssertion
    $form = [System.Net.Http.FormUrlEncodedContent]::new($fields)
    $uri = "$($script:Emulator.Url)/$($script:Emulator.TenantId)/oauth2/v2.0/token"
    $response = $script:Http.PostAsync($uri, $form).GetAwaiter().GetResult()
    $text = $response.Content.ReadAsStringAsync().GetAwaiter().GetResult()
    if (-not $response.IsSuccessStatusCode) { throw "The emulator refused the client credentials grant: $([int]$response.StatusCode)" }
    ($text | ConvertFrom-Json).access_token
}

function New-TestBrowserScript {
    # A shell script that plays the system browser for $BROWSER: it follows
    # the sign-in page's redirect (the emulator approves at once) to the
    # helper's loopback listener, trusting the emulator's CA only, and notes
    # each call in <script>.log.
    param([Parameter(Mandatory)] [string] $Path)
    $log = "$Path.log"
    Set-Content -Path $Path -Value @"
#!/bin/sh
echo "`$1" >> '$log'
curl --cacert '$($script:Emulator.CaFile)' -s -o /dev/null -L --max-time 30 "`$1" >/dev/null 2>&1 &
exit 0
"@
    chmod 700 $Path
    $Path
}

function Start-BackgroundConnect {
    # Runs Connect-ExchangeMfa in a runspace of its own, so that a test can
    # watch its information stream (the device code, the browser URL) and
    # play the user or the browser, or stop it like Ctrl+C does. -WaitFor
    # waits for the first information record with that tag (see
    # Wait-BackgroundInformation). Returns { PowerShell, Handle, Shown }.
    param([Parameter(Mandatory)] [hashtable] $Parameters, [string] $WaitFor)
    $ps = [powershell]::Create()
    [void]$ps.AddScript({
            param($Manifest, $Parameters)
            Import-Module $Manifest
            Connect-ExchangeMfa @Parameters
        }).AddArgument((Join-Path $script:RepoRoot 'ExchangeMfa.psd1')).AddArgument($Parameters)
    $background = [pscustomobject]@{ PowerShell = $ps; Handle = $ps.BeginInvoke(); Shown = $null }
    if ($WaitFor) { $background.Shown = Wait-BackgroundInformation -Background $background -Tag $WaitFor }
    $background
}

function Wait-BackgroundInformation {
    # The first information record with $Tag from a background Connect, or
    # $null after $TimeoutSeconds.
    param([Parameter(Mandatory)] $Background, [Parameter(Mandatory)] [string] $Tag, [int] $TimeoutSeconds = 30)
    $deadline = [datetime]::UtcNow.AddSeconds($TimeoutSeconds)
    while ([datetime]::UtcNow -lt $deadline) {
        $record = $Background.PowerShell.Streams.Information | Where-Object { $_.Tags -contains $Tag } | Select-Object -First 1
        if ($record) { return $record.MessageData }
        if ($Background.Handle.IsCompleted) { return $null }
        Start-Sleep -Milliseconds 50
    }
    $null
}

function Stop-BackgroundConnect {
    # Disconnects and disposes a background Connect's runspace.
    param([Parameter(Mandatory)] $Background)
    $ps = $Background.PowerShell
    if (-not $Background.Handle.IsCompleted) { $ps.Stop() }
    $ps.Commands.Clear()
    [void]$ps.AddScript({ Disconnect-ExchangeMfa -Confirm:$false -ErrorAction Ignore; Remove-Module ExchangeMfa -ErrorAction Ignore })
    try { [void]$ps.Invoke() } catch { $null = $_ }
    $ps.Dispose()
}

Export-ModuleMember -Function Get-RepoRoot, Start-NodeServer, Stop-NodeServer, Start-TestEmulator, Stop-TestEmulator,
    Start-TestSession, Stop-TestSession, Invoke-EmulatorControl, Set-EmulatorConfig, Get-EmulatorStats, Reset-Emulator, Get-TestConnectParameters, Get-TestHelperProcessId,
    Invoke-ChildPwsh, New-TestClientAssertion, Get-TestAppAccessToken, New-TestBrowserScript,
    Start-BackgroundConnect, Wait-BackgroundInformation, Stop-BackgroundConnect
