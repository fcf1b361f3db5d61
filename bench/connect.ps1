# Connect figures for the proxy commands (issue 9): prints them, asserts nothing.
# Every run is a new pwsh connecting from a cached token (no sign-in on the
# network), once with this tree and once with the baseline tree, which
# generates its 68 v1 proxies at Connect (default /work/main, the commit
# before build-time proxies).
#
#   total     pwsh start + Import-Module + Connect-ExchangeMfa, from outside
#   connect   Connect-ExchangeMfa alone, timed inside the child
#   retained  GC.GetTotalMemory(true) after Connect minus before Import-Module:
#             the managed memory the module and its commands keep
#             (and after the two Get-Mailbox calls below)
#   first     the first Get-Mailbox -ResultSize 1 (this tree: the autoload of
#             its group module, then the call) and the second one
#   prefix    this tree only: Connect -Prefix Contoso (aliases for the whole
#             catalogue) in the same kind of child
#
#   pwsh -NoProfile -File bench/connect.ps1 [-Runs 5] [-Baseline /work/main]
param(
    [int] $Runs = 5,
    [string] $Baseline = '/work/main'
)

$ErrorActionPreference = 'Stop'
$root = Split-Path $PSScriptRoot -Parent
Import-Module (Join-Path $root 'tests/pester/TestSupport.psm1')
Import-Module (Join-Path $PSScriptRoot 'BenchSupport.psm1')

# Start-TestEmulator points EXCHANGEMFA_CACHE_DIR into its own folder; the
# children inherit it, and the CA file.
$emulator = Start-TestEmulator -Mailboxes 50
try {
    $upn = 'admin@contoso.onmicrosoft.com'
    function Invoke-ConnectChild([string] $Manifest, [string] $Prefix) {
        $prefixArgument = if ($Prefix) { "-Prefix $Prefix" } else { '' }
        $call = if ($Prefix) { "Get-$($Prefix)Mailbox" } else { 'Get-Mailbox' }
        $child = @"
`$env:BROWSER = '/bin/false'
`$before = [System.GC]::GetTotalMemory(`$true)
Import-Module '$Manifest'
`$watch = [System.Diagnostics.Stopwatch]::StartNew()
`$c = Connect-ExchangeMfa -UserPrincipalName $upn -ShowBanner:`$false $prefixArgument -AzureADAuthorizationEndpointUri '$($emulator.Authority)' -ConnectionUri '$($emulator.Url)' 6>`$null
`$connect = `$watch.Elapsed.TotalMilliseconds
`$after = [System.GC]::GetTotalMemory(`$true)
`$watch.Restart(); `$null = $call -ResultSize 1; `$first = `$watch.Elapsed.TotalMilliseconds
`$watch.Restart(); `$null = $call -ResultSize 1; `$second = `$watch.Elapsed.TotalMilliseconds
`$called = [System.GC]::GetTotalMemory(`$true)
[pscustomobject]@{ Mode = `$c.SignInMode; ConnectMs = `$connect; RetainedMB = (`$after - `$before) / 1MB; CalledMB = (`$called - `$before) / 1MB; FirstMs = `$first; SecondMs = `$second } | ConvertTo-Json -Compress
"@
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        $line = Invoke-ChildPwsh -Command $child | Where-Object { "$_" -like '{*' } | Select-Object -Last 1
        if (-not $line) { throw "The child for $Manifest printed no figures." }
        $answer = $line | ConvertFrom-Json
        $answer | Add-Member -NotePropertyName TotalMs -NotePropertyValue $watch.Elapsed.TotalMilliseconds
        $answer
    }
    function Write-Figures([string] $Label, [object[]] $Results) {
        Format-Figure "$Label total (pwsh start + import + Connect)" $Results.TotalMs
        Format-Figure "$Label Connect-ExchangeMfa" $Results.ConnectMs
        Format-Figure "$Label retained managed memory after Connect" $Results.RetainedMB 'MB'
        Format-Figure "$Label retained managed memory after two Get-Mailbox" $Results.CalledMB 'MB'
        Format-Figure "$Label first Get-Mailbox" $Results.FirstMs
        Format-Figure "$Label second Get-Mailbox" $Results.SecondMs
        "$Label sign-in modes: $(($Results.Mode | Sort-Object -Unique) -join ',')"
    }

    # A first, interactive-free sign-in fills the cache.
    $manifest = Join-Path $root 'ExchangeMfa.psd1'
    Import-Module $manifest
    $null = Connect-ExchangeMfa -UserPrincipalName $upn -Device -AzureADAuthorizationEndpointUri $emulator.Authority -ConnectionUri $emulator.Url -ShowBanner:$false 6>$null
    Disconnect-ExchangeMfa -Confirm:$false
    Remove-Module ExchangeMfa

    $count = @(Get-Content (Join-Path $root 'module/Commands/CommandNames.txt')).Count
    # Interleaved, so that the machine's load falls on both alike.
    $new = [System.Collections.Generic.List[object]]::new()
    $old = [System.Collections.Generic.List[object]]::new()
    $prefixed = [System.Collections.Generic.List[object]]::new()
    $baselineManifest = Join-Path $Baseline 'ExchangeMfa.psd1'
    foreach ($run in 1..$Runs) {
        $new.Add((Invoke-ConnectChild $manifest))
        if (Test-Path $baselineManifest) { $old.Add((Invoke-ConnectChild $baselineManifest)) }
        $prefixed.Add((Invoke-ConnectChild $manifest Contoso))
    }
    Write-Figures "build-time proxies ($count commands):" $new
    if ($old.Count) {
        Write-Figures "baseline $Baseline (68 proxies made at Connect):" $old
        'ratio total new/baseline (medians): {0:N2}' -f (($new.TotalMs | Sort-Object)[[int][math]::Floor($Runs / 2)] / ($old.TotalMs | Sort-Object)[[int][math]::Floor($Runs / 2)])
    }
    Write-Figures "build-time proxies, -Prefix Contoso ($count aliases):" $prefixed
}
finally {
    Stop-TestEmulator
}
