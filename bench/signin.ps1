# Sign-in figures (issue 4): prints them, asserts nothing.
#
#   cached    a new pwsh connects with -UserPrincipalName while the token
#             cache holds a valid access token: no network sign-in at all
#   refresh   the same, but the cached access token is stale: one silent
#             refresh_token grant
#   roundtrip one process, connected: the helper's `list` round trip
#             (Get-ExchangeMfaConnection) and a whole Exchange call on a
#             cached token (Get-OrganizationConfig), from PowerShell
#
#   pwsh -NoProfile -File bench/signin.ps1 [-Runs 5] [-Calls 200]
param(
    [int] $Runs = 5,
    [int] $Calls = 200
)

$ErrorActionPreference = 'Stop'
$root = Split-Path $PSScriptRoot -Parent
$manifest = Join-Path $root 'ExchangeMfa.psd1'
Import-Module (Join-Path $root 'tests/pester/TestSupport.psm1')
Import-Module (Join-Path $PSScriptRoot 'BenchSupport.psm1')


# Start-TestEmulator points EXCHANGEMFA_CACHE_DIR into its own folder.
$emulator = Start-TestEmulator -Mailboxes 50
try {
    $cloud = @{ AzureADAuthorizationEndpointUri = $emulator.Authority; ConnectionUri = $emulator.Url; ShowBanner = $false }
    $upn = 'admin@contoso.onmicrosoft.com'
    # The child times Connect itself (without pwsh's start and the import)
    # and says how it signed in; BROWSER=/bin/false: a prompt would fail.
    $child = @"
`$env:BROWSER = '/bin/false'
Import-Module '$manifest'
`$watch = [System.Diagnostics.Stopwatch]::StartNew()
`$c = Connect-ExchangeMfa -UserPrincipalName $upn -ShowBanner:`$false -AzureADAuthorizationEndpointUri '$($emulator.Authority)' -ConnectionUri '$($emulator.Url)' 6>`$null
`$ms = `$watch.Elapsed.TotalMilliseconds
[pscustomobject]@{ Mode = `$c.SignInMode; ConnectMs = `$ms } | ConvertTo-Json -Compress
"@
    function Invoke-Child {
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        $line = Invoke-ChildPwsh -Command $child | Where-Object { "$_" -like '{*' } | Select-Object -Last 1
        $answer = $line | ConvertFrom-Json
        $answer | Add-Member -NotePropertyName TotalMs -NotePropertyValue $watch.Elapsed.TotalMilliseconds
        $answer
    }

    # A first, interactive-free sign-in fills the cache.
    Import-Module $manifest
    $null = Connect-ExchangeMfa -UserPrincipalName $upn -Device @cloud 6>$null
    Disconnect-ExchangeMfa -Confirm:$false

    Reset-Emulator
    $cached = foreach ($run in 1..$Runs) { Invoke-Child }
    $stats = Get-EmulatorStats
    Format-Figure 'cached: Connect-ExchangeMfa in a new pwsh, valid cached token' $cached.ConnectMs
    Format-Figure 'cached: pwsh start + import + Connect' $cached.TotalMs
    'cached: sign-in modes {0}; token requests at the emulator: {1}' -f (($cached.Mode | Sort-Object -Unique) -join ','),
        ([int]$stats.tokenRequests.refresh_token + [int]$stats.tokenRequests.device_code + [int]$stats.tokenRequests.authorization_code)

    # A 200 s token counts as expired in the cache (5-minute margin): a
    # sign-in stores one, and every run refreshes it once for another.
    # A new cache folder: with the old one this sign-in would be silent too.
    $env:EXCHANGEMFA_CACHE_DIR = Join-Path $emulator.Dir 'cache-refresh'
    Set-EmulatorConfig @{ tokenLifetime = 200 }
    $null = Connect-ExchangeMfa -UserPrincipalName $upn -Device @cloud 6>$null
    Disconnect-ExchangeMfa -Confirm:$false
    Invoke-EmulatorControl -Path reset | Out-Null
    $refreshed = foreach ($run in 1..$Runs) { Invoke-Child }
    $stats = Get-EmulatorStats
    Format-Figure 'refresh: Connect-ExchangeMfa in a new pwsh, silent refresh' $refreshed.ConnectMs
    'refresh: sign-in modes {0}; refresh_token grants {1} for {2} runs' -f (($refreshed.Mode | Sort-Object -Unique) -join ','),
        [int]$stats.tokenRequests.refresh_token, $Runs
    Set-EmulatorConfig @{ tokenLifetime = 3600 }

    $connection = Connect-ExchangeMfa -UserPrincipalName $upn -Device @cloud 6>$null
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    foreach ($i in 1..$Calls) { $null = Get-ExchangeMfaConnection }
    'roundtrip: helper list (Get-ExchangeMfaConnection), {0} calls: {1:N3} ms each' -f $Calls, ($watch.Elapsed.TotalMilliseconds / $Calls)
    Reset-Emulator
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    foreach ($i in 1..$Calls) { $null = Get-OrganizationConfig }
    $stats = Get-EmulatorStats
    'roundtrip: Get-OrganizationConfig on a cached token, {0} calls: {1:N3} ms each; token requests {2}' -f $Calls,
        ($watch.Elapsed.TotalMilliseconds / $Calls), ([int]$stats.tokenRequests.refresh_token)
    Disconnect-ExchangeMfa -ConnectionId $connection.ConnectionId -Confirm:$false
}
finally {
    Stop-TestEmulator
}
