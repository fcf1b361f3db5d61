# A certified OpenID provider (oidc-provider, tests/peers/provider.mjs) for
# the Pester suites, started like TestSupport starts the emulator: a fresh
# state folder, the ready line read from stdout, the helper pointed at the
# provider's throwaway CA (EXCHANGEMFA_CA_FILE), control requests with TLS
# verified against that CA. Two shapes: entra (tenant in the path, Microsoft
# routes) and plain (issuer at the root, the library's default routes).

$script:RepoRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
$script:Provider = $null
$script:Http = $null

function Test-ProviderInstalled {
    # oidc-provider comes from `npm ci --prefix tests/peers`.
    Test-Path (Join-Path $script:RepoRoot 'tests/peers/node_modules/oidc-provider')
}

function Start-TestProvider {
    # Starts `node tests/peers/provider.mjs`; -AutoApprove plays the user's
    # phone for every device code (as admin@contoso.onmicrosoft.com).
    param(
        [ValidateSet('entra', 'plain')] [string] $Shape = 'entra',
        [switch] $AutoApprove
    )
    $dir = Join-Path ([System.IO.Path]::GetTempPath()) "exchangemfa-provider-$([guid]::NewGuid().ToString('n').Substring(0, 12))"
    New-Item -ItemType Directory -Path $dir | Out-Null
    $script = Join-Path $script:RepoRoot 'tests/peers/provider.mjs'

    # stderr to a file (oidc-provider warns about the Node version); stdin
    # stays open: the provider exits when it closes.
    $startInfo = [System.Diagnostics.ProcessStartInfo]::new('/bin/sh')
    foreach ($arg in @('-c', 'exec node "$@" 2>>"$PROVIDER_LOG"', 'sh', $script, '--dir', $dir, '--shape', $Shape)) {
        $startInfo.ArgumentList.Add([string]$arg)
    }
    if ($AutoApprove) { $startInfo.ArgumentList.Add('--auto-approve') }
    $startInfo.Environment['PROVIDER_LOG'] = Join-Path $dir 'provider.log'
    $startInfo.UseShellExecute = $false
    $startInfo.RedirectStandardInput = $true
    $startInfo.RedirectStandardOutput = $true
    $process = [System.Diagnostics.Process]::Start($startInfo)

    $read = $process.StandardOutput.ReadLineAsync()
    if (-not $read.Wait(30000) -or $null -eq $read.Result) {
        try { $process.Kill($true) } catch { $null = $_ }
        $log = Get-Content (Join-Path $dir 'provider.log') -Raw -ErrorAction Ignore
        Remove-Item -Recurse -Force $dir -ErrorAction Ignore
        throw "oidc-provider did not start: $log"
    }
    $ready = $read.Result | ConvertFrom-Json
    $env:EXCHANGEMFA_CA_FILE = $ready.caFile
    # The helper's token cache goes into the test folder, never the user's.
    $env:EXCHANGEMFA_CACHE_DIR = Join-Path $dir 'cache'

    $ca = [System.Security.Cryptography.X509Certificates.X509Certificate2]::CreateFromPem((Get-Content $ready.caFile -Raw))
    $handler = [System.Net.Http.SocketsHttpHandler]::new()
    $policy = [System.Security.Cryptography.X509Certificates.X509ChainPolicy]::new()
    $policy.TrustMode = [System.Security.Cryptography.X509Certificates.X509ChainTrustMode]::CustomRootTrust
    $policy.RevocationMode = [System.Security.Cryptography.X509Certificates.X509RevocationMode]::NoCheck
    [void]$policy.CustomTrustStore.Add($ca)
    $handler.SslOptions.CertificateChainPolicy = $policy
    $script:Http = [System.Net.Http.HttpClient]::new($handler)
    $script:Http.Timeout = [timespan]::FromSeconds(30)

    $script:Provider = [pscustomobject]@{
        Url         = $ready.url
        Issuer      = $ready.issuer
        Authority   = $ready.authority
        Shape       = $ready.shape
        CaFile      = $ready.caFile
        ClientId    = $ready.clientId
        AppId       = $ready.appId
        AppCertFile = $ready.appCertFile
        AppKeyFile  = $ready.appKeyFile
        TenantId    = $ready.tenantId
        Dir         = $dir
        Process     = $process
        Log         = Join-Path $dir 'provider.log'
    }
    $script:Provider
}

function Stop-TestProvider {
    $provider = $script:Provider
    if (-not $provider) { return }
    $script:Provider = $null
    try {
        $provider.Process.StandardInput.Close()
        if (-not $provider.Process.WaitForExit(5000)) { $provider.Process.Kill($true) }
    }
    catch { $null = $_ }
    if ($script:Http) { $script:Http.Dispose(); $script:Http = $null }
    Remove-Item -Recurse -Force $provider.Dir -ErrorAction Ignore
    Remove-Item Env:EXCHANGEMFA_CA_FILE -ErrorAction Ignore
    Remove-Item Env:EXCHANGEMFA_CACHE_DIR -ErrorAction Ignore
}

function Invoke-ProviderControl {
    # GET /_peer/stats or POST /_peer/config with a JSON body.
    param(
        [Parameter(Mandatory)] [ValidateSet('stats', 'config')] [string] $Path,
        [object] $Body
    )
    $uri = "$($script:Provider.Url)/_peer/$Path"
    $response = if ($Path -eq 'stats') {
        $script:Http.GetAsync($uri).GetAwaiter().GetResult()
    }
    else {
        $json = if ($null -ne $Body) { ConvertTo-Json -InputObject $Body -Compress } else { '{}' }
        $content = [System.Net.Http.StringContent]::new($json, [System.Text.Encoding]::UTF8, 'application/json')
        $script:Http.PostAsync($uri, $content).GetAwaiter().GetResult()
    }
    $text = $response.Content.ReadAsStringAsync().GetAwaiter().GetResult()
    if (-not $response.IsSuccessStatusCode) { throw "Provider $Path answered $([int]$response.StatusCode): $text" }
    $text | ConvertFrom-Json
}

function Get-ProviderStats {
    # { token: { <grant_type>: n }, invoke, unauthorized, discovery, grantsRevoked }
    Invoke-ProviderControl -Path stats
}

function Set-ProviderConfig {
    # autoApprove: who signs in at the provider's pages ($null: the user
    # refuses, access_denied); invokeFailures: answer that many Exchange
    # requests with 401.
    param([Parameter(Mandatory)] [hashtable] $Settings)
    Invoke-ProviderControl -Path config -Body $Settings | Out-Null
}

function New-ProviderBrowserScript {
    # A shell script that plays the system browser for $BROWSER: curl with a
    # cookie jar (the provider's interaction steps need its cookies) follows
    # the redirects to the helper's loopback listener, trusting the
    # provider's CA only; each call is noted in <script>.log.
    param([Parameter(Mandatory)] [string] $Path)
    $log = "$Path.log"
    $jar = "$Path.cookies"
    Set-Content -Path $Path -Value @"
#!/bin/sh
echo "`$1" >> '$log'
curl --cacert '$($script:Provider.CaFile)' -s -o /dev/null -L -c '$jar' -b '$jar' --max-time 30 "`$1" >/dev/null 2>&1 &
exit 0
"@
    chmod 700 $Path
    $Path
}

Export-ModuleMember -Function Test-ProviderInstalled, Start-TestProvider, Stop-TestProvider, Invoke-ProviderControl,
    Get-ProviderStats, Set-ProviderConfig, New-ProviderBrowserScript
