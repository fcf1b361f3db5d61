# Pipelines of per-object calls (issue 12): prints figures, asserts nothing.
# `Get-Mailbox -ResultSize 500 | Get-MailboxStatistics` against the emulator
# answering every Exchange request after 20 ms (config pageDelayMs), one
# connection in this process, the ways interleaved in every repetition so
# the machine's load falls on all alike; ratios are taken within a
# repetition and shown as min/median/max over the repetitions.
#
#   window 1      -ThrottleLimit 1: one request at a time (the module before
#                 requests in flight)
#   window 8      the default: up to 8 requests in flight, drained oldest first
#   batch-like    10 requests at a time in lockstep (send 10, wait for all
#                 10, send the next 10): the best case of Microsoft's
#                 POST .../$batch of 10 with the service running a batch's
#                 requests at once; the HTTP requests saved by batching are
#                 not modelled (docs/decisions.md, "Requests in flight")
#
# Every way sends the same 501 Exchange requests (checked with the
# emulator's counters).
#
#   pwsh -NoProfile -File bench/pipeline.ps1 [-Runs 5] [-Count 500] [-LatencyMs 20]
param(
    [int] $Runs = 5,
    [int] $Count = 500,
    [int] $LatencyMs = 20
)

$ErrorActionPreference = 'Stop'
$root = Split-Path $PSScriptRoot -Parent
Import-Module (Join-Path $root 'tests/pester/TestSupport.psm1')
Import-Module (Join-Path $PSScriptRoot 'BenchSupport.psm1')

$ways = [ordered]@{
    'window 1'   = { Get-Mailbox -ResultSize $Count -WarningAction SilentlyContinue | Get-MailboxStatistics -ThrottleLimit 1 | Measure-Object }
    'window 8'   = { Get-Mailbox -ResultSize $Count -WarningAction SilentlyContinue | Get-MailboxStatistics | Measure-Object }
    'batch-like' = {
        $boxes = @(Get-Mailbox -ResultSize $Count -WarningAction SilentlyContinue)
        $(for ($i = 0; $i -lt $boxes.Count; $i += 10) {
                $boxes[$i..([math]::Min($i + 9, $boxes.Count - 1))] | Get-MailboxStatistics -ThrottleLimit 10
            }) | Measure-Object
    }
}

try {
    $null = Start-TestSession -Mailboxes ([math]::Max($Count, 1000))
    Reset-Emulator
    $parameters = Get-TestConnectParameters
    $null = Connect-ExchangeMfa @parameters 6>$null
    Set-EmulatorConfig @{ pageDelayMs = $LatencyMs }
    "emulator: $LatencyMs ms per Exchange answer; Get-Mailbox -ResultSize $Count | Get-MailboxStatistics; $Runs repetitions, ways interleaved"

    # A first pass of each way, not counted: loads the proxies and JIT-compiles.
    foreach ($way in $ways.Values) { $null = & $way }

    $seconds = @{}
    foreach ($name in $ways.Keys) { $seconds[$name] = [System.Collections.Generic.List[double]]::new() }
    for ($run = 1; $run -le $Runs; $run++) {
        # A different order each repetition: the ways rotated by one.
        $names = @($ways.Keys)
        $shift = $run % $names.Count
        $order = @($names[$shift..($names.Count - 1)]) + @(if ($shift) { $names[0..($shift - 1)] })
        foreach ($name in $order) {
            Invoke-EmulatorControl -Path reset | Out-Null
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            $measured = & $ways[$name]
            $clock.Stop()
            $stats = Get-EmulatorStats
            if ($measured.Count -ne $Count -or $stats.cmdletRequests.'Get-MailboxStatistics' -ne $Count) {
                throw "$name wrote $($measured.Count) objects for $($stats.cmdletRequests.'Get-MailboxStatistics') requests ($Count expected)"
            }
            $seconds[$name].Add($clock.Elapsed.TotalSeconds)
            '  run {0}, {1}: {2:N2} s, at most {3} requests at the emulator at once' -f $run, $name, $clock.Elapsed.TotalSeconds, $stats.exchangeMaxInFlight
        }
    }
    ''
    foreach ($name in $ways.Keys) { Format-Figure "$name, $Count calls" $seconds[$name].ToArray() 's' }
    foreach ($name in 'window 8', 'batch-like') {
        $ratios = for ($i = 0; $i -lt $Runs; $i++) { $seconds['window 1'][$i] / $seconds[$name][$i] }
        $goal = if ($name -eq 'window 8') { 'goal >= 4: ' } else { '' }
        Format-Figure "${goal}$name / window 1 speed" $ratios 'x'
    }
}
finally {
    Stop-TestSession
}
