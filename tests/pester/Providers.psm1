# A certified OpenID provider (oidc-provider, tests/peers/provider.mjs) for
# the Pester suites, started like TestSupport starts the emulator
# (Start-NodeServer): a fresh state folder, the helper pointed at the
# provider's throwaway CA, control requests with TLS verified against it.
# Two shapes: entra (tenant in the path, Microsoft routes) and plain
# (issuer at the root, the library's default routes).

# Start-NodeServer and Stop-NodeServer come from TestSupport.
Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1')

$script:RepoRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
$script:Provider = $null
$script:Http = $null

function Test-ProviderInstalled {
    # oidc-provider comes from `npm ci --prefix tests/peers`.
    Test-Path (Join-Path $script:RepoRoot 'tests/peers/node_modules/oidc-provider')
}

function Start-TestProvider {
    # Starts `node tests/peers/provider.mjs` with Start-NodeServer;
    # -AutoApprove plays the user's phone for every device code (as
    # admin@contoso.onmicrosoft.com).
    param(
        [ValidateSet('entra', 'plain')] [string] $Shape = 'entra',
        [switch] $AutoApprove
    )
    $arguments = @('--shape', $Shape)
    if ($AutoApprove) { $arguments += '--auto-approve' }
    $server = Start-NodeServer -Script (Join-Path $script:RepoRoot 'tests/peers/provider.mjs') -Arguments $arguments -Name provider
    $ready = $server.Ready
    $script:Http = $server.Http

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
        Dir         = $server.Dir
        Process     = $server.Process
        Log         = $server.Log
    }
    $script:Provider
}

function Stop-TestProvider {
    $provider = $script:Provider
    if (-not $provider) { return }
    $script:Provider = $null
    Stop-NodeServer -Process $provider.Process -Dir $provider.Dir -Http $script:Http
    $script:Http = $null
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
