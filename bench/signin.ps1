# Sign-in figures (issue 4): prints them, asserts nothing.
#
#   cached    a new pwsh connects with -UserPrincipalName while the token
#             cache holds a valid access token: no network sign-in at all
#   refresh   the same, but the cached access token is stale: one silent
#             refresh_token grant
#   roundtrip one process, connected: the helper's `list` round trip
#             (Get-ExchangeMfaConnection) and a whole Exchange call on a
#             cached token (Get-OrganizationConfig), from PowerShell
#   renewal   the token path beside its peer, @azure/msal-node (the copy
#             tests/peers installs; bench/msal-renewal.mjs), same emulator,
#             same account, interleaved, -Renewals repetitions:
#               helper   one helper process, a silent `connect` whose cached
#                        access token is stale: one refresh_token grant, the
#                        rotated tokens written to the token cache (file, lock,
#                        fsync); timed at the pipe (request line written, reply
#                        line read), no PowerShell object work; a second helper
#                        with its cache folder on tmpfs (no disk in the fsync)
#               msal     acquireTokenSilent({ forceRefresh: true }) and
#                        acquireTokenByRefreshToken, in-memory cache, timed
#                        in node around the call
#
#   pwsh -NoProfile -File bench/signin.ps1 [-Runs 5] [-Calls 200] [-Renewals 20]
param(
    [int] $Runs = 5,
    [int] $Calls = 200,
    [int] $Renewals = 20
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

    # Renewal beside msal-node, tokens still 200 s: every silent connect of
    # the helper renews. Two helpers, each with a cache folder of its own
    # filled by a device sign-in: one on disk like a user's, one on tmpfs
    # (/dev/shm, where fsync costs nothing), to show what the cache's
    # durable write (temp file, fsync, rename, fsync of the folder) costs.
    function Start-Redirected([string] $Path, [string[]] $Arguments, [string] $CacheDir) {
        $info = [System.Diagnostics.ProcessStartInfo]::new($Path)
        foreach ($argument in $Arguments) { $info.ArgumentList.Add($argument) }
        $info.UseShellExecute = $false
        $info.RedirectStandardInput = $true
        $info.RedirectStandardOutput = $true
        $info.RedirectStandardError = [bool]$CacheDir
        if ($CacheDir) { $info.Environment['EXCHANGEMFA_CACHE_DIR'] = $CacheDir }
        $process = [System.Diagnostics.Process]::Start($info)
        if ($CacheDir) { $process.BeginErrorReadLine() }   # the helper's diagnostics are not measured
        $process
    }
    $helperPath = [ExchangeMfa.Helper]::FindPath()
    $caches = [ordered]@{ disk = Join-Path $emulator.Dir 'cache-renewal' }
    if (Test-Path -LiteralPath /dev/shm -PathType Container) { $caches.tmpfs = Join-Path /dev/shm "exchangemfa-bench-$PID" }
    $helpers = [ordered]@{}
    foreach ($kind in $caches.Keys) { $helpers[$kind] = Start-Redirected $helperPath @() -CacheDir $caches[$kind] }
    $node = (Get-Command node -CommandType Application)[0].Source
    $msal = Start-Redirected $node (Join-Path $PSScriptRoot 'msal-renewal.mjs'), $emulator.Url, $emulator.CaFile
    try {
        $script:NextId = 0
        function Invoke-HelperLine([System.Diagnostics.Process] $Helper, [string] $Method, [hashtable] $Params) {
            # One request as a raw line; the reply line (notifications skipped)
            # and the milliseconds from writing the request to reading it.
            $id = ++$script:NextId
            $line = @{ jsonrpc = '2.0'; id = $id; method = $Method; params = $Params } | ConvertTo-Json -Compress -Depth 5
            $watch = [System.Diagnostics.Stopwatch]::StartNew()
            $Helper.StandardInput.WriteLine($line)
            $Helper.StandardInput.Flush()
            do { $reply = $Helper.StandardOutput.ReadLine() } until ($null -eq $reply -or ($reply -match '"id":(\d+)[,}]' -and $Matches[1] -eq $id))
            $ms = $watch.Elapsed.TotalMilliseconds
            if ($null -eq $reply -or $reply -notmatch '"result"') { throw "helper $Method failed: $reply" }
            [pscustomobject]@{ Ms = $ms; Result = ($reply | ConvertFrom-Json).result }
        }
        $connect = @{ mode = 'device'; userPrincipalName = $upn; authority = $emulator.Authority; connectionUri = $emulator.Url }
        foreach ($helper in $helpers.Values) {
            $null = Invoke-HelperLine $helper initialize @{ protocolVersion = 1 }
            $first = Invoke-HelperLine $helper connect $connect
            $null = Invoke-HelperLine $helper disconnect @{ connectionId = $first.Result.connectionId }
        }
        if ($msal.StandardOutput.ReadLine() -ne 'ready') { throw 'msal-renewal.mjs did not sign in' }

        Invoke-EmulatorControl -Path reset | Out-Null
        $renewal = [ordered]@{}
        foreach ($kind in @($helpers.Keys) + 'silent', 'refresh') { $renewal[$kind] = [System.Collections.Generic.List[double]]::new() }
        $modes = [System.Collections.Generic.List[string]]::new()
        foreach ($run in 1..$Renewals) {
            foreach ($kind in $helpers.Keys) {
                $answer = Invoke-HelperLine $helpers[$kind] connect $connect
                $modes.Add($answer.Result.signInMode)
                $renewal[$kind].Add($answer.Ms)
                $null = Invoke-HelperLine $helpers[$kind] disconnect @{ connectionId = $answer.Result.connectionId }
            }
            foreach ($kind in 'silent', 'refresh') {
                $msal.StandardInput.WriteLine($kind)
                $msal.StandardInput.Flush()
                $reply = $msal.StandardOutput.ReadLine()
                if ($reply -notmatch '^[0-9.]+$') { throw "msal-renewal.mjs ${kind}: $reply" }
                $renewal[$kind].Add([double]::Parse($reply, [cultureinfo]::InvariantCulture))
            }
        }
        $stats = Get-EmulatorStats
        foreach ($kind in $helpers.Keys) {
            Format-Figure "renewal: helper, silent connect with one refresh_token grant, cache on $kind (at its pipe)" $renewal[$kind]
        }
        Format-Figure 'renewal: msal-node acquireTokenSilent forceRefresh (in-memory cache)' $renewal.silent
        Format-Figure 'renewal: msal-node acquireTokenByRefreshToken (in-memory cache)' $renewal.refresh
        foreach ($kind in $helpers.Keys) {
            foreach ($peer in 'silent', 'refresh') {
                $ratios = for ($i = 0; $i -lt $Renewals; $i++) { $renewal[$kind][$i] / $renewal[$peer][$i] }
                Format-Figure "renewal: ratio helper ($kind cache) / msal-node $peer (below 1: the helper is faster)" $ratios 'x'
            }
        }
        'renewal: helper sign-in modes {0}; at the emulator, for {2} repetitions of {5} renewals: refresh_token grants {1}, discovery documents {3}, key sets {4}' -f
            (($modes | Sort-Object -Unique) -join ','), [int]$stats.tokenRequests.refresh_token, $Renewals, $stats.discoveryRequests, $stats.keysRequests, ($helpers.Count + 2)
    }
    finally {
        foreach ($process in @($helpers.Values) + $msal) {
            $process.StandardInput.Close()
            if (-not $process.WaitForExit(5000)) { $process.Kill() }
        }
        if ($caches.tmpfs) { Remove-Item -LiteralPath $caches.tmpfs -Recurse -Force -ErrorAction Ignore }
    }
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
