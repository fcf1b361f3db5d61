# Issue 3's figures: prints them, asserts nothing. Run by `./build.sh bench`.
#
#   connect   a new pwsh process: start, Import-Module, Connect-ExchangeMfa
#             -Device with instant approval, exit; no token cache, so a real
#             device flow (its first poll waits one interval, 1 s here)
#   stream    Get-Mailbox -ResultSize Unlimited | Measure-Object over 100,000
#             mailboxes: objects per second, peak memory of helper and pwsh
param(
    [int] $Mailboxes = 100000,
    [int] $ConnectRuns = 3
)

$ErrorActionPreference = 'Stop'
$root = Split-Path $PSScriptRoot -Parent
Import-Module (Join-Path $root 'tests/pester/TestSupport.psm1')
Import-Module (Join-Path $PSScriptRoot 'BenchSupport.psm1')


$emulator = Start-TestEmulator -Mailboxes $Mailboxes
try {
    $connectScript = @"
Import-Module '$root/ExchangeMfa.psd1'
`$null = Connect-ExchangeMfa -UserPrincipalName admin@contoso.onmicrosoft.com -Device -InMemoryTokenCache -ShowBanner:`$false ``
    -AzureADAuthorizationEndpointUri '$($emulator.Authority)' -ConnectionUri '$($emulator.Url)' 6>`$null
"@
    $times = foreach ($run in 1..$ConnectRuns) {
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        $null = Invoke-ChildPwsh -Command $connectScript
        $watch.Elapsed.TotalMilliseconds
    }
    Format-Figure 'connect: pwsh start to Connect returned (includes one 1 s device poll interval)' $times

    Import-Module (Join-Path $root 'ExchangeMfa.psd1')
    $params = Get-TestConnectParameters
    $null = Connect-ExchangeMfa @params 6>$null
    $helperId = Get-TestHelperProcessId

    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    $count = (Get-Mailbox -ResultSize Unlimited | Measure-Object).Count
    $seconds = $watch.Elapsed.TotalSeconds
    "stream: Get-Mailbox -ResultSize Unlimited | Measure-Object: {0:N0} objects in {1:N2} s = {2:N0} objects/s" -f $count, $seconds, ($count / $seconds)
    "stream: peak memory: helper {0} MB, pwsh {1} MB" -f (Get-PeakMemoryMB $helperId), (Get-PeakMemoryMB $PID)
    Disconnect-ExchangeMfa -Confirm:$false
}
finally {
    Stop-TestEmulator
}
