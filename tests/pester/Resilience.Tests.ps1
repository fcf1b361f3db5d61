# Resilience against the emulator's faults (issue 5): 429 waits Retry-After;
# 503/504 and Exchange's transient exceptions retry with backoff (at most 5
# retries), then a clear error; a reset mid-read resumes on the page it was
# on; slow and hanging servers; a CAE claims challenge; warnings, progress,
# -ErrorAction and Ctrl+C while the helper waits to retry. (Select-Object
# -First stopping the paging is in Mailbox.Tests.ps1.)
#
# Every fault comes from the emulator's fault queue, and every outcome is
# checked against its counters (requests, pages, faults fired).

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    $script:emulator = Start-TestEmulator -Mailboxes 2500
    $script:Manifest = Join-Path $PSScriptRoot '../../ExchangeMfa.psd1'
    # The helper reads its backoff base when it starts: set it first, then
    # make sure the helper of this session is a new one (Import -Force
    # stops a helper left by an earlier test file).
    $env:EXCHANGEMFA_RETRY_BASE_MS = '50'
    Import-Module $script:Manifest -Force
    Disconnect-ExchangeMfa -Confirm:$false -ErrorAction Ignore
    Reset-Emulator
    $parameters = Get-TestConnectParameters
    $script:connection = Connect-ExchangeMfa @parameters -PageSize 100

    function Set-ExchangeFault {
        # Replaces the emulator's Exchange fault queue.
        param([Parameter(Mandatory)] [object[]] $Fault)
        Set-EmulatorConfig @{ faults = @{ exchange = @($Fault) } }
    }

    function Get-FaultedMailbox {
        # Get-Mailbox after queueing $Fault: the objects, the errors (not
        # shown), the seconds it took and the emulator's counters after it.
        param([Parameter(Mandatory)] [object[]] $Fault, [object] $ResultSize = 50)
        Set-ExchangeFault $Fault
        $clock = [System.Diagnostics.Stopwatch]::StartNew()
        $boxes = @(Get-Mailbox -ResultSize $ResultSize -ErrorVariable problems -ErrorAction SilentlyContinue)
        [pscustomobject]@{ Boxes = $boxes; Problems = @($problems); Seconds = $clock.Elapsed.TotalSeconds; Stats = Get-EmulatorStats }
    }

    function Assert-EveryMailboxOnce {
        # No error and $Count distinct mailboxes; -InOrder: in the emulator's
        # order (names end in the position: user00001 ... shared00500).
        param([Parameter(Mandatory)] $Read, [Parameter(Mandatory)] [int] $Count, [switch] $InOrder)
        $Read.Problems | Should -BeNullOrEmpty
        $Read.Boxes.Count | Should -Be $Count
        ($Read.Boxes.Guid | Sort-Object -Unique).Count | Should -Be $Count
        if ($InOrder) {
            ($Read.Boxes.Name -replace '^\D+' -join ',') | Should -BeExactly ((1..$Count | ForEach-Object { '{0:d5}' -f $_ }) -join ',')
        }
    }

    function New-ChildSession {
        # A PowerShell instance (a runspace of its own, sharing the process's
        # helper), signed in to the emulator: for progress records, stopping
        # a pipeline, and a helper started with other settings.
        $ps = [powershell]::Create()
        $null = $ps.AddScript({
                param($Manifest, $Parameters)
                Import-Module $Manifest
                $null = Connect-ExchangeMfa @Parameters -PageSize 100
            }).AddArgument($script:Manifest).AddArgument((Get-TestConnectParameters))
        $null = $ps.Invoke()
        if ($ps.Streams.Error.Count -gt 0) { throw "The child session did not connect: $($ps.Streams.Error[0])" }
        $ps.Commands.Clear()
        $ps
    }

    function Remove-ChildSession {
        param($Session)
        $Session.Commands.Clear()
        $null = $Session.AddScript({ Remove-Module ExchangeMfa -ErrorAction Ignore }).Invoke()
        $Session.Dispose()
    }
}

AfterAll {
    # The emulator and its folder go even when the module cannot disconnect.
    try {
        Disconnect-ExchangeMfa -Confirm:$false -ErrorAction Ignore
        Remove-Module ExchangeMfa -ErrorAction Ignore
    }
    finally {
        Stop-TestEmulator
        Remove-Module TestSupport -ErrorAction Ignore
        Remove-Item Env:EXCHANGEMFA_RETRY_BASE_MS -ErrorAction Ignore
    }
}

Describe 'Retried answers end in success' {
    BeforeEach {
        Reset-Emulator
    }

    It '429 with Retry-After 1: waits a second, retries once, returns every object' {
        $read = Get-FaultedMailbox @{ kind = 'status'; status = 429; retryAfter = 1 }
        Assert-EveryMailboxOnce $read 50
        $read.Seconds | Should -BeGreaterOrEqual 0.95
        $read.Stats.faultsFired | Should -Be 1
        $read.Stats.exchangeRequests | Should -Be 2
        $read.Stats.pagesServed | Should -Be 1
    }

    It '503 twice, then success: three requests, every object once' {
        $read = Get-FaultedMailbox @{ kind = 'status'; status = 503; repeat = 2 }
        Assert-EveryMailboxOnce $read 50
        $read.Stats.faultsFired | Should -Be 2
        $read.Stats.exchangeRequests | Should -Be 3
    }

    It '504, then success' {
        $read = Get-FaultedMailbox @{ kind = 'status'; status = 504 }
        Assert-EveryMailboxOnce $read 50
        $read.Stats.faultsFired | Should -Be 1
        $read.Stats.exchangeRequests | Should -Be 2
    }

    It 'the transient <exception>, then success' -ForEach @(
        @{ exception = 'DCOverloadedException' }, @{ exception = 'ServerInMMException' },
        @{ exception = 'StorageTransientException' }, @{ exception = 'ADTransientException' }) {
        $read = Get-FaultedMailbox @{ kind = 'transient'; exception = $exception }
        Assert-EveryMailboxOnce $read 50
        $read.Stats.faultsFired | Should -Be 1
        $read.Stats.exchangeRequests | Should -Be 2
    }

    It 'the plain-text throttle answer (Retry-After 1), then success' {
        $read = Get-FaultedMailbox @{ kind = 'throttle'; retryAfter = 1 }
        Assert-EveryMailboxOnce $read 50
        $read.Seconds | Should -BeGreaterOrEqual 0.95
        $read.Stats.faultsFired | Should -Be 1
        $read.Stats.exchangeRequests | Should -Be 2
    }

    It 'a 503 on page 3 of a paged read: the page is fetched again, nothing lost or doubled' {
        $read = Get-FaultedMailbox @{ kind = 'status'; status = 503; page = 3 } -ResultSize 500
        Assert-EveryMailboxOnce $read 500 -InOrder
        $read.Stats.exchangeRequests | Should -Be 6
        $read.Stats.pagesServed | Should -Be 5
    }

    It 'the tenant throttle (exchangeThrottle maxPerSecond): every object arrives' {
        Set-EmulatorConfig @{ exchangeThrottle = @{ maxPerSecond = 8; retryAfter = 1 } }
        try {
            $boxes = @(Invoke-ExchangeMfaCommand Get-Mailbox -ResultSize 1000 -PageSize 50 -ErrorVariable problems)
            $problems | Should -BeNullOrEmpty
            $boxes.Count | Should -Be 1000
            ($boxes.Guid | Sort-Object -Unique).Count | Should -Be 1000
            $stats = Get-EmulatorStats
            $stats.throttled | Should -BeGreaterThan 0
            $stats.pagesServed | Should -Be 20
            $stats.exchangeRequests | Should -Be (20 + $stats.throttled)
        }
        finally { Set-EmulatorConfig @{ exchangeThrottle = $null } }
    }
}

Describe 'Retries that run out end in a clear error' {
    BeforeEach {
        Reset-Emulator
    }

    It '6 consecutive 503s: ExchangeMfa.ExchangeError after 6 attempts, no more requests' {
        $read = Get-FaultedMailbox @{ kind = 'status'; status = 503; repeat = 6 }
        $problems = $read.Problems
        $read.Boxes.Count | Should -Be 0
        $problems.Count | Should -Be 1
        $problems[0].FullyQualifiedErrorId | Should -Be 'ExchangeMfa.ExchangeError,Get-Mailbox'
        $problems[0].CategoryInfo.Category | Should -Be 'InvalidOperation'
        $problems[0].Exception.Message | Should -Match '\b6 attempts\b'
        $problems[0].Exception.Data['ExchangeMfa.httpStatus'] | Should -Be 503
        # 5 backoffs from a 50 ms base: bounded, not minutes.
        $read.Seconds | Should -BeLessThan 15
        $read.Stats.faultsFired | Should -Be 6
        $read.Stats.exchangeRequests | Should -Be 6
        # The connection still works.
        @(Get-Mailbox -ResultSize 5).Count | Should -Be 5
    }

    It 'a persistent 429: ExchangeMfa.Throttled (LimitsExceeded) with retryAfter, after waiting each Retry-After' {
        $read = Get-FaultedMailbox @{ kind = 'status'; status = 429; retryAfter = 1; repeat = 6 }
        $problems = $read.Problems
        $read.Boxes.Count | Should -Be 0
        $problems.Count | Should -Be 1
        $problems[0].FullyQualifiedErrorId | Should -Be 'ExchangeMfa.Throttled,Get-Mailbox'
        $problems[0].CategoryInfo.Category | Should -Be 'LimitsExceeded'
        $problems[0].Exception.Data['ExchangeMfa.retryAfter'] | Should -Be 1
        $problems[0].Exception.Data['ExchangeMfa.httpStatus'] | Should -Be 429
        $problems[0].Exception.Message | Should -Match '\b6 attempts\b'
        # Five waits of Retry-After (1 s each).
        $read.Seconds | Should -BeGreaterOrEqual 4.9
        $read.Seconds | Should -BeLessThan 20
        $read.Stats.exchangeRequests | Should -Be 6
    }

    It 'a persistent transient exception: ExchangeMfa.ServerBusy (ResourceBusy) after 6 attempts' {
        $read = Get-FaultedMailbox @{ kind = 'transient'; exception = 'ServerInMMException'; repeat = 6 }
        $problems = $read.Problems
        $read.Boxes.Count | Should -Be 0
        $problems.Count | Should -Be 1
        $problems[0].FullyQualifiedErrorId | Should -Be 'ExchangeMfa.ServerBusy,Get-Mailbox'
        $problems[0].CategoryInfo.Category | Should -Be 'ResourceBusy'
        $problems[0].Exception.Data['ExchangeMfa.exceptionType'] | Should -Be 'ServerInMMException'
        $problems[0].Exception.Message | Should -Match '\b6 attempts\b'
        (Get-EmulatorStats).exchangeRequests | Should -Be 6
    }

    It 'forbidden (no RBAC role): ExchangeMfa.AccessDenied (PermissionDenied), not retried' {
        $read = Get-FaultedMailbox @{ kind = 'forbidden' }
        $problems = $read.Problems
        $read.Boxes.Count | Should -Be 0
        $problems.Count | Should -Be 1
        $problems[0].FullyQualifiedErrorId | Should -Be 'ExchangeMfa.AccessDenied,Get-Mailbox'
        $problems[0].CategoryInfo.Category | Should -Be 'PermissionDenied'
        $problems[0].Exception.Message | Should -Match 'RBAC role'
        $problems[0].Exception.Data['ExchangeMfa.httpStatus'] | Should -Be 403
        (Get-EmulatorStats).exchangeRequests | Should -Be 1
    }

    It '-ErrorAction Stop makes the final error terminating' {
        Set-ExchangeFault @{ kind = 'status'; status = 503; repeat = 6 }
        { Get-Mailbox -ResultSize 50 -ErrorAction Stop } | Should -Throw -ErrorId 'ExchangeMfa.ExchangeError,Get-Mailbox'
        (Get-EmulatorStats).exchangeRequests | Should -Be 6
    }

    It '-ErrorAction SilentlyContinue: the failed input is reported, the next input runs' {
        Set-ExchangeFault @{ kind = 'forbidden' }
        # One request at a time: the fault goes to the first request the
        # emulator sees, which with several in flight need not be user00001's.
        $boxes = @('user00001', 'user00002') | ForEach-Object { [pscustomobject]@{ Identity = $_ } } |
            Get-Mailbox -ThrottleLimit 1 -ErrorVariable problems -ErrorAction SilentlyContinue
        $boxes.Name | Should -Be 'user00002'
        $problems.Count | Should -Be 1
        $problems[0].FullyQualifiedErrorId | Should -Be 'ExchangeMfa.AccessDenied,Get-Mailbox'
        $problems[0].TargetObject | Should -Be 'user00001'
    }
}

Describe 'A connection reset mid-read' {
    BeforeEach {
        Reset-Emulator
    }

    It 'after 10 objects of page 3 (2,500 mailboxes, pages of 100): exactly 2,500 distinct objects, in order' {
        $clean = @(Get-Mailbox -ResultSize Unlimited)
        $clean.Count | Should -Be 2500
        Reset-Emulator
        $read = Get-FaultedMailbox @{ kind = 'reset'; afterObjects = 10; page = 3 } -ResultSize Unlimited
        Assert-EveryMailboxOnce $read 2500
        ($read.Boxes.Guid -join ',') | Should -BeExactly ($clean.Guid -join ',')
        $read.Stats.faultsFired | Should -Be 1
        # 25 pages, page 3 twice.
        $read.Stats.exchangeRequests | Should -Be 26
    }

    It 'twice on the same page, and once more on the next: still exact' {
        $read = Get-FaultedMailbox -ResultSize 500 @(
            @{ kind = 'reset'; afterObjects = 30; page = 2; repeat = 2 },
            @{ kind = 'reset'; afterObjects = 75; page = 3 })
        Assert-EveryMailboxOnce $read 500 -InOrder
        $read.Stats.faultsFired | Should -Be 3
        $read.Stats.exchangeRequests | Should -Be 8
    }

    It 'progress counts each object once across a resumed page' {
        $session = New-ChildSession
        try {
            Reset-Emulator
            Set-ExchangeFault @{ kind = 'reset'; afterObjects = 10; page = 3 }
            $null = $session.AddScript({ (Get-Mailbox -ResultSize Unlimited | Measure-Object).Count })
            $count = $session.Invoke()
            $session.Streams.Error | Should -BeNullOrEmpty
            $count | Should -Be 2500
            $records = @($session.Streams.Progress | Where-Object { $_.Activity -like 'Get-Mailbox*' })
            $running = @($records | Where-Object RecordType -NE 'Completed')
            $running.Count | Should -Be 25
            $running[0].StatusDescription | Should -Be '100 objects, 1 pages'
            $running[2].StatusDescription | Should -Be '300 objects, 3 pages'
            $running[-1].StatusDescription | Should -Be '2500 objects, 25 pages'
            $records[-1].RecordType | Should -Be 'Completed'
        }
        finally { Remove-ChildSession $session }
    }
}

Describe 'Slow and silent servers' {
    BeforeEach {
        Reset-Emulator
    }

    It 'a 1.5 s pause mid-body is waited out: every object, no retry' {
        $read = Get-FaultedMailbox @{ kind = 'stall'; afterObjects = 20; ms = 1500 } -ResultSize 100
        Assert-EveryMailboxOnce $read 100
        $read.Seconds | Should -BeGreaterOrEqual 1.4
        $read.Stats.faultsFired | Should -Be 1
        $read.Stats.exchangeRequests | Should -Be 1
    }

    Context 'with a 2 s stall timeout (EXCHANGEMFA_STALL_TIMEOUT_MS)' {
        BeforeAll {
            # A new helper reads the short timeout when it starts. One helper
            # serves the whole process (docs/module.md, "Runspaces"), so the
            # session's goes first and the child session starts the new one.
            Disconnect-ExchangeMfa -Confirm:$false
            $env:EXCHANGEMFA_STALL_TIMEOUT_MS = '2000'
            try { $script:stallSession = New-ChildSession }
            finally { Remove-Item Env:EXCHANGEMFA_STALL_TIMEOUT_MS -ErrorAction Ignore }
        }

        AfterAll {
            # Removing the module that started the helper ends it; the
            # session connects again on a helper with the usual timeout.
            Remove-ChildSession $script:stallSession
            $parameters = Get-TestConnectParameters
            $script:connection = Connect-ExchangeMfa @parameters -PageSize 100
        }

        BeforeEach {
            $script:stallSession.Commands.Clear()
        }

        It 'a pause longer than the timeout mid-body: the page is fetched again, every object once' {
            Set-ExchangeFault @{ kind = 'stall'; afterObjects = 20; ms = 4000 }
            $null = $script:stallSession.AddScript({
                    $boxes = @(Get-Mailbox -ResultSize 100 -ErrorVariable problems -ErrorAction SilentlyContinue)
                    [pscustomobject]@{ Guids = @($boxes.Guid); Names = @($boxes.Name); Problems = @($problems) }
                })
            $result = $script:stallSession.Invoke()[0]
            $result.Problems.Count | Should -Be 0
            $result.Guids.Count | Should -Be 100
            ($result.Guids | Sort-Object -Unique).Count | Should -Be 100
            ($result.Names -replace '^\D+' -join ',') | Should -BeExactly ((1..100 | ForEach-Object { '{0:d5}' -f $_ }) -join ',')
            $stats = Get-EmulatorStats
            $stats.faultsFired | Should -Be 1
            $stats.exchangeRequests | Should -Be 2
        }

        It 'a server that never answers: ExchangeMfa.Timeout after 3 attempts of about 2 s' {
            # Timeouts are retried twice (each costs the stall time), then reported.
            Set-ExchangeFault @{ kind = 'hang'; repeat = 10 }
            $null = $script:stallSession.AddScript({
                    $clock = [System.Diagnostics.Stopwatch]::StartNew()
                    $boxes = @(Get-Mailbox -ResultSize 10 -ErrorVariable problems -ErrorAction SilentlyContinue)
                    [pscustomobject]@{ Boxes = $boxes.Count; Problems = @($problems); Seconds = $clock.Elapsed.TotalSeconds }
                })
            $result = $script:stallSession.Invoke()[0]
            $result.Boxes | Should -Be 0
            $result.Problems.Count | Should -Be 1
            $result.Problems[0].FullyQualifiedErrorId | Should -Be 'ExchangeMfa.Timeout,Get-Mailbox'
            $result.Problems[0].CategoryInfo.Category | Should -Be 'OperationTimeout'
            $result.Problems[0].Exception.Message | Should -Match '\b3 attempts'
            (Get-EmulatorStats).exchangeRequests | Should -Be 3
            # Each attempt gives up after 2 s (curl counts whole seconds); backoffs from 50 ms.
            $result.Seconds | Should -BeGreaterOrEqual 5.8
            $result.Seconds | Should -BeLessThan 14
        }
    }
}

Describe 'A claims challenge (CAE)' {
    BeforeEach {
        Reset-Emulator
    }

    It 'gets a new token and retries once: success' {
        $read = Get-FaultedMailbox @{ kind = 'claims' }
        Assert-EveryMailboxOnce $read 50
        $stats = $read.Stats
        $stats.unauthorized | Should -Be 1
        $stats.exchangeRequests | Should -Be 2
        # The new token came from the refresh token. (The emulator's stats do
        # not record the claims parameter of a token request.)
        $stats.tokenRequests.refresh_token | Should -Be 1
    }

    It 'a second challenge in a row is not retried again: ExchangeMfa.Unauthorized' {
        Set-ExchangeFault @{ kind = 'claims'; repeat = 2 }
        { Get-Mailbox -ResultSize 50 -ErrorAction Stop } | Should -Throw -ErrorId 'ExchangeMfa.Unauthorized,Get-Mailbox'
        $stats = Get-EmulatorStats
        $stats.exchangeRequests | Should -Be 2
        $stats.tokenRequests.refresh_token | Should -Be 1
    }
}

Describe 'Warnings' {
    BeforeEach {
        Reset-Emulator
    }

    It '@adminapi.warnings become warnings of the command (-WarningVariable), once even after a retry' {
        Set-ExchangeFault @{ kind = 'status'; status = 503; cmdlet = 'Set-Mailbox' }
        $policy = (Get-Mailbox -Identity user00009).RetentionPolicy
        $output = Set-Mailbox -Identity user00009 -RetentionPolicy $policy -Confirm:$false -WarningVariable warned -WarningAction SilentlyContinue
        $output | Should -BeNullOrEmpty
        $warned.Count | Should -Be 1
        [string]$warned[0] | Should -Be "The command completed successfully but no settings of 'user00009' have been modified."
        (Get-EmulatorStats).cmdletRequests.'Set-Mailbox' | Should -Be 2
    }
}

Describe 'Ctrl+C while the helper waits to retry' {
    BeforeEach {
        Reset-Emulator
    }

    It 'stopping the pipeline during a 30 s Retry-After ends within 2 s and sends nothing more' {
        $session = New-ChildSession
        try {
            Reset-Emulator
            Set-ExchangeFault @{ kind = 'status'; status = 429; retryAfter = 30 }
            $null = $session.AddScript({ Get-Mailbox -ResultSize 50 })
            $run = $session.BeginInvoke()
            $deadline = [datetime]::UtcNow.AddSeconds(20)
            while ((Get-EmulatorStats).faultsFired -lt 1 -and [datetime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 50 }
            (Get-EmulatorStats).faultsFired | Should -Be 1
            Start-Sleep -Milliseconds 300
            $run.IsCompleted | Should -BeFalse
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            $session.Stop()
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 2
            Start-Sleep -Milliseconds 1500
            (Get-EmulatorStats).exchangeRequests | Should -Be 1
            # The helper was not blocked by the abandoned wait.
            $session.Commands.Clear()
            $null = $session.AddScript({ @(Get-Mailbox -ResultSize 3).Count })
            $clock.Restart()
            $session.Invoke() | Should -Be 3
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 10
        }
        finally { Remove-ChildSession $session }
    }
}
