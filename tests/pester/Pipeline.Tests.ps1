# Requests in flight for pipeline input (docs/exchange.md, Pipelines): a
# proxy fed by the pipeline keeps up to -ThrottleLimit invokes in flight and
# still writes results, warnings and errors in input order; -WhatIf sends
# nothing; a Set- is never sent twice; throttling narrows the helper's
# window; a stopped pipeline leaves nothing running. Not timed: figures are
# bench/pipeline.ps1's.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    $script:emulator = Start-TestSession -Mailboxes 300
    Reset-Emulator
    $parameters = Get-TestConnectParameters
    $script:connection = Connect-ExchangeMfa @parameters -PageSize 100
    # Get-Mailbox -ResultSize N reads N of 300: Exchange's "more results" warning is expected.
    $PSDefaultParameterValues['Get-Mailbox:WarningAction'] = 'SilentlyContinue'

    function Wait-EmulatorIdle {
        # Exchange requests still being answered after a command ended.
        param([double] $Seconds = 5)
        $deadline = [datetime]::UtcNow.AddSeconds($Seconds)
        while ((Get-EmulatorStats).exchangeInFlight -gt 0 -and [datetime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 50 }
        (Get-EmulatorStats).exchangeInFlight
    }

    function Stop-PipelineInFlight {
        # Runs $Pipeline in a runspace of its own (a new connection), waits
        # until 8 of its requests are at the emulator, then stops it as
        # Ctrl+C does.
        param([Parameter(Mandatory)] [scriptblock] $Pipeline)
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript({
                    param($Manifest, $Parameters, $Pipeline)
                    Import-Module $Manifest
                    $null = Connect-ExchangeMfa @Parameters
                    & ([scriptblock]::Create($Pipeline))
                }).AddArgument((Join-Path $PSScriptRoot '../../ExchangeMfa.psd1')).AddArgument((Get-TestConnectParameters)).AddArgument("$Pipeline")
            $null = $ps.BeginInvoke()
            $deadline = [datetime]::UtcNow.AddSeconds(30)
            while ((Get-EmulatorStats).exchangeInFlight -lt 8 -and [datetime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 50 }
            (Get-EmulatorStats).exchangeInFlight | Should -Be 8
            $ps.Stop()
        }
        finally {
            $ps.Commands.Clear()
            $null = $ps.AddScript({ Remove-Module ExchangeMfa }).Invoke()
            $ps.Dispose()
        }
    }
}

AfterAll {
    Stop-TestSession
    Remove-Module TestSupport -ErrorAction Ignore
}

Describe 'Requests in flight for pipeline input' {
    BeforeEach {
        Invoke-EmulatorControl -Path reset | Out-Null
        Set-EmulatorConfig @{ pageDelayMs = 0; pageDelayJitterMs = 0; exchangeThrottle = $null; exchangeRateLimit = $null }
    }

    It 'keeps several requests in flight and writes results in input order, whatever order they finish in' {
        $names = @(Get-Mailbox -ResultSize 40).Name
        Set-EmulatorConfig @{ pageDelayMs = 20; pageDelayJitterMs = 150 }
        Invoke-EmulatorControl -Path reset | Out-Null
        $statistics = @($names | Get-MailboxStatistics)
        $statistics.Count | Should -Be 40
        # Each statistics object names its mailbox: same order as the input.
        @($statistics.DisplayName) | Should -Be @(Get-Mailbox -ResultSize 40).DisplayName
        $stats = Get-EmulatorStats
        $stats.cmdletRequests.'Get-MailboxStatistics' | Should -Be 40
        $stats.exchangeMaxInFlight | Should -BeGreaterThan 1
        $stats.exchangeMaxInFlight | Should -BeLessOrEqual 8
    }

    It 'takes -ThrottleLimit: 1 sends one at a time, 3 at most three' {
        $names = @(Get-Mailbox -ResultSize 12).Name
        # Answers slow enough that the sends overlap even on a loaded machine.
        Set-EmulatorConfig @{ pageDelayMs = 150 }
        Invoke-EmulatorControl -Path reset | Out-Null
        @($names | Get-MailboxStatistics -ThrottleLimit 1).Count | Should -Be 12
        (Get-EmulatorStats).exchangeMaxInFlight | Should -Be 1
        Invoke-EmulatorControl -Path reset | Out-Null
        @($names | Get-MailboxStatistics -ThrottleLimit 3).Count | Should -Be 12
        (Get-EmulatorStats).exchangeMaxInFlight | Should -Be 3
    }

    It 'writes errors between the results, in input order' {
        Set-EmulatorConfig @{ pageDelayJitterMs = 100 }
        $identities = 'user00001', 'nosuch1', 'user00002', 'user00003', 'nosuch2', 'user00004'
        $merged = @($identities | Get-MailboxStatistics -ErrorAction Continue 2>&1)
        $merged.Count | Should -Be 6
        $kinds = @(foreach ($item in $merged) {
                if ($item -is [System.Management.Automation.ErrorRecord]) { "error:$($item.TargetObject)" } else { $item.DisplayName }
            })
        $expected = @(foreach ($name in $identities) {
                if ($name -like 'nosuch*') { "error:$name" } else { (Get-Mailbox -Identity $name).DisplayName }
            })
        $kinds | Should -Be $expected
    }

    It '-WhatIf sends nothing' {
        $boxes = @(Get-Mailbox -ResultSize 10)
        Invoke-EmulatorControl -Path reset | Out-Null
        $boxes | Set-Mailbox -CustomAttribute5 'whatif' -WhatIf
        $stats = Get-EmulatorStats
        $stats.stateChangingRequests | Should -Be 0
        $stats.exchangeRequests | Should -Be 0
    }

    It 'keeps one request in flight while -Confirm may ask, the window otherwise' {
        # An interactive prompt cannot run here: the module's decision is
        # checked with a command whose $ConfirmPreference is High.
        $limits = & {
            $medium = @{ ChangesState = $true; ConfirmImpact = 'Medium' }
            $high = @{ ChangesState = $true; ConfirmImpact = 'High' }
            foreach ($case in @(
                    @{ Bound = @{ Confirm = [switch]$true }; Command = $medium }
                    @{ Bound = @{ Confirm = [switch]$false }; Command = $high }
                    @{ Bound = @{}; Command = $high }
                    @{ Bound = @{}; Command = $medium }
                    @{ Bound = @{ WhatIf = [switch]$true }; Command = $high }
                    @{ Bound = @{ Confirm = [switch]$true; ThrottleLimit = 4 }; Command = @{ ChangesState = $false } }
                )) {
                [ExchangeMfa.ExchangeProxy]::ThrottleLimit($case.Bound, $case.Command, 'none', 'High')
            }
        }
        $limits | Should -Be @(1, 8, 1, 8, 8, 4)
        # And with -Confirm:$false every mailbox is changed once.
        $boxes = @(Get-Mailbox -ResultSize 4)
        Invoke-EmulatorControl -Path reset | Out-Null
        $boxes | Set-Mailbox -CustomAttribute6 'confirmed' -Confirm:$false
        $runs = (Get-EmulatorStats).stateChangingRuns
        @($runs.PSObject.Properties).Count | Should -Be 4
        @($runs.PSObject.Properties.Value | Sort-Object -Unique) | Should -Be @(1)
    }

    It 'never sends a Set- twice, even when Exchange throttles' {
        $boxes = @(Get-Mailbox -ResultSize 30)
        Invoke-EmulatorControl -Path reset | Out-Null
        # Over 2 at once: a 429 (Exchange did not run it, so it is retried).
        Set-EmulatorConfig @{ pageDelayMs = 40; exchangeThrottle = @{ maxConcurrent = 2; retryAfter = 0 } }
        $boxes | Set-Mailbox -CustomAttribute7 'once' -Confirm:$false
        $stats = Get-EmulatorStats
        $stats.throttled | Should -BeGreaterThan 0
        $runs = $stats.stateChangingRuns
        @($runs.PSObject.Properties).Count | Should -Be 30
        @($runs.PSObject.Properties.Value | Sort-Object -Unique) | Should -Be @(1)
        Set-EmulatorConfig @{ exchangeThrottle = $null; pageDelayMs = 0 }
        @(Get-Mailbox -ResultSize 30 | Where-Object CustomAttribute7 -EQ 'once').Count | Should -Be 30
    }

    It 'narrows the window when Exchange throttles (429s), so fewer requests arrive at once' {
        # A connection of its own: the window is the connection's and
        # remembers the throttling (it grows back slowly).
        $parameters = Get-TestConnectParameters
        $busy = Connect-ExchangeMfa @parameters -Prefix Busy
        try {
            $names = @(Get-Mailbox -ResultSize 60).Name
            Set-EmulatorConfig @{ pageDelayMs = 150 }
            Invoke-EmulatorControl -Path reset | Out-Null
            @($names | Get-BusyMailboxStatistics).Count | Should -Be 60
            (Get-EmulatorStats).exchangeMaxInFlight | Should -Be 8
            # Past 3 at once Exchange refuses; every refused request is
            # retried (429: Exchange did not run it), so all 60 come back.
            Set-EmulatorConfig @{ pageDelayMs = 40; exchangeThrottle = @{ maxConcurrent = 3; retryAfter = 0 } }
            Invoke-EmulatorControl -Path reset | Out-Null
            @($names | Get-BusyMailboxStatistics).Count | Should -Be 60
            $first = Get-EmulatorStats
            $first.throttled | Should -BeGreaterThan 0
            # A window that stayed at 8 would have 5 of 8 refused each round
            # (well over 60 429s); halving and slow growth keep it to a few.
            $first.throttled | Should -BeLessThan 25
            # The next command starts from the narrowed window: fewer arrive at once.
            Invoke-EmulatorControl -Path reset | Out-Null
            @($names | Get-BusyMailboxStatistics).Count | Should -Be 60
            (Get-EmulatorStats).exchangeMaxInFlight | Should -BeLessThan 8
        }
        finally {
            Disconnect-ExchangeMfa -ConnectionId $busy.ConnectionId -Confirm:$false
        }
    }

    It 'honours Rate-Limit-Remaining and waits for Rate-Limit-Reset' {
        $names = @(Get-Mailbox -ResultSize 20).Name
        Invoke-EmulatorControl -Path reset | Out-Null
        Set-EmulatorConfig @{ pageDelayMs = 20; exchangeRateLimit = @{ budget = 12; windowSeconds = 1 } }
        $clock = [System.Diagnostics.Stopwatch]::StartNew()
        $statistics = @($names | Get-MailboxStatistics)
        $clock.Stop()
        $statistics.Count | Should -Be 20
        $stats = Get-EmulatorStats
        # 20 requests on a budget of 12 a second: at least one wait for the reset.
        $clock.Elapsed.TotalSeconds | Should -BeGreaterThan 0.5
        # At most one request goes over the budget before the window closes.
        $stats.throttled | Should -BeLessOrEqual 2
    }

    It 'cancels every request in flight when the pipeline stops (Select-Object -First)' {
        $names = @(Get-Mailbox -ResultSize 30).Name
        Set-EmulatorConfig @{ pageDelayMs = 500 }
        Invoke-EmulatorControl -Path reset | Out-Null
        $first = @($names | Get-MailboxStatistics | Select-Object -First 1)
        $first.Count | Should -Be 1
        Wait-EmulatorIdle | Should -Be 0
        # Only the first window went out; nothing more after the stop.
        $sent = (Get-EmulatorStats).cmdletRequests.'Get-MailboxStatistics'
        $sent | Should -BeLessOrEqual 9
        Start-Sleep -Milliseconds 700
        (Get-EmulatorStats).cmdletRequests.'Get-MailboxStatistics' | Should -Be $sent
        Set-EmulatorConfig @{ pageDelayMs = 0 }
        @(Get-MailboxStatistics -Identity user00001).Count | Should -Be 1
    }

    It 'cancels every request in flight on Ctrl+C and leaves none running' {
        # The stop lands in the proxy, waiting for its oldest answer; the
        # emulator's 1.5 s answers are closed long before they are done.
        Set-EmulatorConfig @{ pageDelayMs = 1500 }
        Stop-PipelineInFlight { 1..30 | ForEach-Object { 'user{0:d5}' -f $_ } | Get-MailboxStatistics }
        Wait-EmulatorIdle -Seconds 1 | Should -Be 0
        (Get-EmulatorStats).cmdletRequests.'Get-MailboxStatistics' | Should -Be 8
    }

    It 'cancels the requests in flight on Ctrl+C while a command upstream runs' {
        # Eight requests out, then the upstream command sleeps: the stop
        # lands there, and only the proxy's clean block can cancel them.
        Set-EmulatorConfig @{ pageDelayMs = 5000 }
        Stop-PipelineInFlight { 1..30 | ForEach-Object { if ($_ -gt 8) { Start-Sleep -Seconds 30 }; 'user{0:d5}' -f $_ } | Get-MailboxStatistics }
        Wait-EmulatorIdle -Seconds 2 | Should -Be 0
        (Get-EmulatorStats).cmdletRequests.'Get-MailboxStatistics' | Should -Be 8
    }

    It 'a terminating error cancels the requests still in flight' {
        Set-EmulatorConfig @{ pageDelayMs = 300 }
        # Invalid input to the helper (a NUL character) is refused before
        # sending, as a terminating error, while earlier requests are in flight.
        { 'user00001', 'user00002', "user`0x", 'user00003' | Get-MailboxStatistics -ErrorAction Stop } |
            Should -Throw -ErrorId 'ExchangeMfa.InvalidParams,*'
        Wait-EmulatorIdle -Seconds 2 | Should -Be 0
        (Get-EmulatorStats).cmdletRequests.'Get-MailboxStatistics' | Should -BeLessOrEqual 2
    }

    It 'one object in, no pipeline: one request as before' {
        @(Get-MailboxStatistics -Identity user00002).Count | Should -Be 1
        (Get-EmulatorStats).cmdletRequests.'Get-MailboxStatistics' | Should -Be 1
    }

    It 'ThrottleLimit is a connection setting' {
        $parameters = Get-TestConnectParameters
        $second = Connect-ExchangeMfa @parameters -ThrottleLimit 2 -Prefix Two
        try {
            $second.ThrottleLimit | Should -Be 2
            (Get-ExchangeMfaConnection | Where-Object ConnectionId -EQ $second.ConnectionId).ThrottleLimit | Should -Be 2
            # Get-ConnectionInformation keeps exactly Microsoft's fields.
            (Get-ConnectionInformation | Where-Object ConnectionId -EQ $second.ConnectionId).PSObject.Properties.Name | Should -Not -Contain ThrottleLimit
            $script:connection.ThrottleLimit | Should -Be 8
            $names = 1..10 | ForEach-Object { 'user{0:d5}' -f $_ }
            Set-EmulatorConfig @{ pageDelayMs = 150 }
            Invoke-EmulatorControl -Path reset | Out-Null
            @($names | Get-TwoMailboxStatistics).Count | Should -Be 10
            (Get-EmulatorStats).exchangeMaxInFlight | Should -Be 2
        }
        finally {
            Disconnect-ExchangeMfa -ConnectionId $second.ConnectionId -Confirm:$false
        }
        { Connect-ExchangeMfa @parameters -ThrottleLimit 65 } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
    }
}
