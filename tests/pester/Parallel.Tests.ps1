# One helper per process, shared by every runspace (issue 12, "Parallel
# runspaces"): a connection made in the session works in ForEach-Object
# -Parallel, thread jobs and runspaces, whose module instances autoload and
# attach to the session's helper. Not timed: every check is about which
# objects arrive where, and that a dead helper ends every waiter.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    $script:emulator = Start-TestSession -Mailboxes 600
    $script:manifest = Join-Path $PSScriptRoot '../../ExchangeMfa.psd1'
    Reset-Emulator
    $parameters = Get-TestConnectParameters
    # Pages of 100: every read below spans several pages (and acks).
    $script:connection = Connect-ExchangeMfa @parameters -PageSize 100

    function Get-HelperChildProcess {
        # This process's helpers (children named exchangemfa-helper).
        @(Get-Process -Name 'exchangemfa-helper*' -ErrorAction Ignore | Where-Object { $_.Parent.Id -eq $PID })
    }

    function Get-ExpectedName([int] $Count) {
        # The emulator's first $Count mailboxes end in their position.
        (1..$Count | ForEach-Object { '{0:d5}' -f $_ }) -join ','
    }
}

AfterAll {
    Stop-TestSession
    Remove-Module TestSupport -ErrorAction Ignore
}

Describe 'ForEach-Object -Parallel' {
    It 'runs 4 Get-Mailbox calls at once, each runspace getting its own objects from the one helper' {
        $helperId = Get-TestHelperProcessId
        $results = 1..4 | ForEach-Object -ThrottleLimit 4 -Parallel {
            # No Import-Module: Get-Mailbox autoloads, and brings ExchangeMfa.
            $boxes = @(Get-Mailbox -ResultSize (100 * $_ + $_) -WarningAction Ignore)
            [pscustomobject]@{
                N        = $_
                Names    = ($boxes.Name -replace '^\D+') -join ','
                Guids    = @($boxes.Guid | Sort-Object -Unique).Count
                Typed    = @($boxes | Where-Object { $_.PSObject.TypeNames[0] -ne 'ExchangeMfa.Mailbox' }).Count -eq 0
                Modules  = @(Get-Module ExchangeMfa).Count
                HelperId = [ExchangeMfa.Helper]::Current.Process.Id
            }
        }
        $results.Count | Should -Be 4
        foreach ($result in $results) {
            $count = 100 * $result.N + $result.N
            $result.Names | Should -BeExactly (Get-ExpectedName $count) -Because "runspace $($result.N) reads its own $count mailboxes, in order"
            $result.Guids | Should -Be $count
            $result.Typed | Should -BeTrue
            $result.Modules | Should -Be 1
            $result.HelperId | Should -Be $helperId
        }
        (Get-HelperChildProcess).Count | Should -Be 1
    }

    It 'sees the session''s connections and defaults' {
        # The module's own commands autoload only where the module is on
        # PSModulePath (installed): here it is imported by path.
        $seen = 1..2 | ForEach-Object -ThrottleLimit 2 -Parallel { Import-Module $using:manifest; Get-ConnectionInformation }
        @($seen).Count | Should -Be 2
        $seen.ConnectionId | Should -Be @($script:connection.ConnectionId, $script:connection.ConnectionId)
        $seen.ConnectionUsedForInbuiltCmdlets | Should -Be @($true, $true)
    }
}

Describe 'Thread jobs and runspaces' {
    It 'Start-ThreadJob uses the session''s connection' {
        $job = Start-ThreadJob { @(Get-Mailbox -ResultSize 150 -WarningAction Ignore).Name -replace '^\D+' -join ',' }
        $names = $job | Wait-Job -Timeout 120 | Receive-Job
        $job | Remove-Job -Force
        $names | Should -BeExactly (Get-ExpectedName 150)
    }

    It 'a thread job and the session stream at the same time, each getting all of its objects' {
        # Slow pages make the two reads overlap.
        Set-EmulatorConfig @{ pageDelayMs = 100 }
        try {
            $job = Start-ThreadJob {
                $started = [datetime]::UtcNow
                $names = @(Get-Mailbox -ResultSize 500 -WarningAction Ignore).Name -replace '^\D+' -join ','
                [pscustomobject]@{ Names = $names; Started = $started; Ended = [datetime]::UtcNow }
            }
            $started = [datetime]::UtcNow
            $mine = @(Get-Mailbox -ResultSize 400 -WarningAction Ignore)
            $ended = [datetime]::UtcNow
            $theirs = $job | Wait-Job -Timeout 120 | Receive-Job
            $job | Remove-Job -Force
        }
        finally { Set-EmulatorConfig @{ pageDelayMs = 0 } }
        ($mine.Name -replace '^\D+') -join ',' | Should -BeExactly (Get-ExpectedName 400)
        $theirs.Names | Should -BeExactly (Get-ExpectedName 500)
        # They did run at once: each started before the other ended.
        $theirs.Started | Should -BeLessThan $ended
        $started | Should -BeLessThan $theirs.Ended
    }

    It 'importing the module in a new runspace starts no second helper' {
        $helperId = Get-TestHelperProcessId
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript({
                    param($Manifest)
                    Import-Module $Manifest
                    [ExchangeMfa.Helper]::Current.Process.Id
                    @(Get-ConnectionInformation).Count
                }).AddArgument($script:manifest)
            $answer = @($ps.Invoke())
            $ps.Streams.Error | Should -BeNullOrEmpty
            $answer[0] | Should -Be $helperId
            $answer[1] | Should -Be 1
            (Get-HelperChildProcess).Count | Should -Be 1
            # Removing the module there leaves the session's helper running.
            $ps.Commands.Clear()
            $null = $ps.AddScript({ Remove-Module ExchangeMfa }).Invoke()
            Get-TestHelperProcessId | Should -Be $helperId
            @(Get-Mailbox -ResultSize 2).Count | Should -Be 2
        }
        finally { $ps.Dispose() }
    }

    It 'a disconnect in a thread job is seen by the session' {
        $parameters = Get-TestConnectParameters
        # The newest connection becomes the default; after the disconnect
        # the session's first one is the default again.
        $second = Connect-ExchangeMfa @parameters
        @(Get-ConnectionInformation).Count | Should -Be 2
        $job = Start-ThreadJob -ArgumentList $script:manifest, $second.ConnectionId {
            param($Manifest, $Id)
            Import-Module $Manifest
            Disconnect-ExchangeMfa -ConnectionId $Id -Confirm:$false
        }
        $null = $job | Wait-Job -Timeout 60 | Receive-Job
        $job | Remove-Job -Force
        $left = @(Get-ConnectionInformation)
        $left.ConnectionId | Should -Be @($script:connection.ConnectionId)
        $left[0].ConnectionUsedForInbuiltCmdlets | Should -BeTrue
        @(Get-Mailbox -ResultSize 2).Count | Should -Be 2
    }
}

Describe 'The helper dies while runspaces wait' {
    It 'every waiting runspace gets the HelperExited error, none hangs' {
        # Pages that take 4 s: every read is waiting when the helper is killed.
        Reset-Emulator
        Set-EmulatorConfig @{ pageDelayMs = 4000 }
        try {
            $helperId = Get-TestHelperProcessId
            $jobs = 1..3 | ForEach-Object {
                Start-ThreadJob {
                    try { Get-Mailbox -ResultSize 300 -ErrorAction Stop | Out-Null; 'no error' }
                    catch { [pscustomobject]@{ Id = $_.FullyQualifiedErrorId; Message = $_.Exception.Message } }
                }
            }
            # Wait until all three requests reached the emulator.
            $deadline = [datetime]::UtcNow.AddSeconds(30)
            while ((Get-EmulatorStats).exchangeRequests -lt 3 -and [datetime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
            (Get-EmulatorStats).exchangeRequests | Should -BeGreaterOrEqual 3
            Stop-Process -Id $helperId -Force
            $done = @($jobs | Wait-Job -Timeout 30)
            $results = @($jobs | Receive-Job)
            $jobs | Remove-Job -Force
        }
        finally { Set-EmulatorConfig @{ pageDelayMs = 0 } }
        $done.Count | Should -Be 3 -Because 'no runspace may hang on a dead helper'
        $results.Count | Should -Be 3
        foreach ($result in $results) {
            $result.Id | Should -Be 'ExchangeMfa.HelperExited,Get-Mailbox'
            $result.Message | Should -Match 'exited unexpectedly'
        }
        # The session sees it too, and a new Connect starts a new helper.
        { Get-Mailbox -ResultSize 1 -ErrorAction Stop } | Should -Throw -ErrorId 'ExchangeMfa.NotConnected,Get-Mailbox'
        $parameters = Get-TestConnectParameters
        $null = Connect-ExchangeMfa @parameters
        Get-TestHelperProcessId | Should -Not -Be $helperId
        @(Get-Mailbox -ResultSize 2).Count | Should -Be 2
    }
}
