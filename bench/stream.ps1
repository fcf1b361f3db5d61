# Issue 3's sign-in figure: prints it, asserts nothing. Run by `./build.sh bench`.
# (Streaming is measured by bench/exchange.ps1, beside its peers.)
#
#   connect   a new pwsh process: start, Import-Module, Connect-ExchangeMfa
#             -Device with instant approval, exit; no token cache, so a real
#             device flow (its first poll waits one interval, 1 s here)
param(
    [int] $ConnectRuns = 3
)

$ErrorActionPreference = 'Stop'
$root = Split-Path $PSScriptRoot -Parent
Import-Module (Join-Path $root 'tests/pester/TestSupport.psm1')
Import-Module (Join-Path $PSScriptRoot 'BenchSupport.psm1')


$emulator = Start-TestEmulator -Mailboxes 50
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
}
finally {
    Stop-TestEmulator
}
