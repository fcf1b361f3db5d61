# The helper on its own, at its pipe (issue 4's "measured in the helper"):
# prints figures, asserts nothing. No module, no object conversion: JSON
# lines written to the helper's stdin and read back from its stdout.
#
#   silent    a fresh helper process: start, initialize, connect from the
#             token cache (a valid cached access token: no network sign-in)
#   list      the protocol round trip (`list`), two ways: raw lines at the
#             pipe (a fixed request line written, the reply line read, no
#             JSON work in PowerShell: the pipe and the helper), and through
#             ConvertTo-Json/ConvertFrom-Json in PowerShell (what a naive
#             client pays)
#   invoke    one Exchange call on the cached token (Get-OrganizationConfig),
#             through ConvertTo-Json/ConvertFrom-Json, emulator included
#
#   pwsh -NoProfile -File bench/helper.ps1 [-Runs 5] [-Calls 500]
param(
    [int] $Runs = 5,
    [int] $Calls = 500
)

$ErrorActionPreference = 'Stop'
$root = Split-Path $PSScriptRoot -Parent
# The helper the module would start (module/bin/<rid>/, or EXCHANGEMFA_HELPER).
$helperPath = & (Import-Module (Join-Path $root 'ExchangeMfa.psd1') -PassThru) { Get-HelperPath }
Import-Module (Join-Path $root 'tests/pester/TestSupport.psm1')
Import-Module (Join-Path $PSScriptRoot 'BenchSupport.psm1')

function Start-Helper {
    $info = [System.Diagnostics.ProcessStartInfo]::new($helperPath)
    $info.UseShellExecute = $false
    $info.RedirectStandardInput = $true
    $info.RedirectStandardOutput = $true
    $info.RedirectStandardError = $true
    $process = [System.Diagnostics.Process]::Start($info)
    $process.BeginErrorReadLine()     # diagnostics are not measured
    $process
}

$script:NextId = 0
function Invoke-Helper($Process, [string] $Method, [hashtable] $Params = @{}) {
    # One request; skips notifications; returns the reply's result.
    $id = ++$script:NextId
    $line = @{ jsonrpc = '2.0'; id = $id; method = $Method; params = $Params } | ConvertTo-Json -Compress -Depth 5
    $Process.StandardInput.WriteLine($line)
    $Process.StandardInput.Flush()
    while ($true) {
        $reply = $Process.StandardOutput.ReadLine() | ConvertFrom-Json
        if ($reply.id -ne $id) { continue }
        if ($reply.error) { throw "$Method failed: $($reply.error.message)" }
        return $reply.result
    }
}

function Stop-Helper($Process) {
    $Process.StandardInput.Close()
    if (-not $Process.WaitForExit(5000)) { $Process.Kill() }
}


$emulator = Start-TestEmulator -Mailboxes 100
$cacheDir = Join-Path $emulator.Dir 'cache'
$env:EXCHANGEMFA_CACHE_DIR = $cacheDir
try {
    $connect = @{
        mode = 'device'; userPrincipalName = 'admin@contoso.onmicrosoft.com'
        authority = $emulator.Authority; connectionUri = $emulator.Url
    }
    # A first sign-in fills the cache (device code, approved by the emulator).
    $first = Start-Helper
    $null = Invoke-Helper $first 'initialize' @{ protocolVersion = 1 }
    $null = Invoke-Helper $first 'connect' $connect
    Stop-Helper $first
    $before = (Get-EmulatorStats).tokenRequests

    $times = foreach ($run in 1..$Runs) {
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        $helper = Start-Helper
        $null = Invoke-Helper $helper 'initialize' @{ protocolVersion = 1 }
        $session = Invoke-Helper $helper 'connect' $connect
        $elapsed = $watch.Elapsed.TotalMilliseconds
        if ($session.signInMode -ne 'Silent') { throw "expected a silent connect, got $($session.signInMode)" }
        if ($run -lt $Runs) { Stop-Helper $helper }
        $elapsed
    }
    $after = (Get-EmulatorStats).tokenRequests
    Format-Figure 'silent: fresh helper process + initialize + connect from the cache' $times
    "silent: token requests during those connects: $((($after.PSObject.Properties.Value | Measure-Object -Sum).Sum) - (($before.PSObject.Properties.Value | Measure-Object -Sum).Sum))"

    # Raw: ids need not be unique for `list`; the reply is the next line.
    $writer = $helper.StandardInput
    $reader = $helper.StandardOutput
    $rawLine = '{"jsonrpc":"2.0","id":999999,"method":"list"}'
    $raw = foreach ($run in 1..$Runs) {
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        foreach ($call in 1..$Calls) { $writer.WriteLine($rawLine); $writer.Flush(); $null = $reader.ReadLine() }
        $watch.Elapsed.TotalMilliseconds / $Calls
    }
    Format-Figure "list: round trip at the pipe, raw lines ($Calls calls a run)" $raw
    $converted = foreach ($run in 1..$Runs) {
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        foreach ($call in 1..$Calls) { $null = Invoke-Helper $helper 'list' }
        $watch.Elapsed.TotalMilliseconds / $Calls
    }
    Format-Figure "list: round trip through ConvertTo-Json/ConvertFrom-Json in pwsh ($Calls calls a run)" $converted

    $invoke = @{ connectionId = $session.connectionId; cmdlet = 'Get-OrganizationConfig' }
    $null = Invoke-Helper $helper 'invoke' $invoke      # warm the TLS connection
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    foreach ($call in 1..$Calls) { $null = Invoke-Helper $helper 'invoke' $invoke }
    'invoke: Get-OrganizationConfig on a cached token: {0:N3} ms a call ({1} calls, emulator included)' -f ($watch.Elapsed.TotalMilliseconds / $Calls), $Calls
    Stop-Helper $helper
}
finally {
    Remove-Item Env:EXCHANGEMFA_CACHE_DIR -ErrorAction Ignore
    Stop-TestEmulator
}
