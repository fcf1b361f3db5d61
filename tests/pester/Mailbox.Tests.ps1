# Get-Mailbox and Invoke-ExchangeMfaCommand against the emulator: streaming,
# ResultSize, early stop, nested requests, errors.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    $script:emulator = Start-TestSession -Mailboxes 2500
    Reset-Emulator
    $parameters = Get-TestConnectParameters
    $script:connection = Connect-ExchangeMfa @parameters -PageSize 100
}

AfterAll {
    Stop-TestSession
    Remove-Module TestSupport -ErrorAction Ignore
}

Describe 'Get-Mailbox' {
    BeforeEach {
        Invoke-EmulatorControl -Path reset | Out-Null
        Set-EmulatorConfig @{ pageDelayMs = 0 }
    }

    It 'returns 1000 typed mailboxes by default, like Exchange' {
        $boxes = @(Get-Mailbox)
        $boxes.Count | Should -Be 1000
        $boxes[0].PSObject.TypeNames[0] | Should -Be 'ExchangeMfa.Mailbox'
        $boxes[0].Name | Should -Be 'user00001'
        ($boxes.Guid | Sort-Object -Unique).Count | Should -Be 1000
    }

    It 'honours -ResultSize <size>' -ForEach @(@{ size = 1 }, @{ size = 10 }, @{ size = 150 }) {
        @(Get-Mailbox -ResultSize $size).Count | Should -Be $size
    }

    It 'reads every page with -ResultSize Unlimited' {
        $boxes = @(Get-Mailbox -ResultSize Unlimited)
        $boxes.Count | Should -Be 2500
        (Get-EmulatorStats).pagesServed | Should -Be 25
    }

    It 'drops the @odata annotations' {
        $box = Get-Mailbox -Identity user00007
        $box.PSObject.Properties.Name | Where-Object { $_ -like '*@odata*' } | Should -BeNullOrEmpty
        $box.Guid | Should -Not -BeNullOrEmpty
        $box.PrimarySmtpAddress | Should -Be 'user00007@contoso.onmicrosoft.com'
    }

    It 'shows the columns Microsoft''s module shows by default' {
        $text = Get-Mailbox -ResultSize 2 | Out-String -Width 200
        $header = ($text -split "`n" | Where-Object { $_ -match '\S' } | Select-Object -First 1)
        $header | Should -Match '^Name\s+Alias\s+Database\s+ProhibitSendQuota\s+ExternalDirectoryObjectId'
        $text | Should -Match '99 GB \(106,300,440,576 bytes\)'
        $text | Should -Match 'user00001'
    }

    It 'stops paging when the pipeline stops (Select-Object -First 3)' {
        $first = @(Get-Mailbox -ResultSize Unlimited | Select-Object -First 3)
        $first.Name | Should -Be @('user00001', 'user00002', 'user00003')
        # The next request proves the helper still serves, after the cancel.
        @(Get-Mailbox -ResultSize 1).Count | Should -Be 1
        # Page 1, perhaps page 2 fetched ahead: never the 25 pages.
        (Get-EmulatorStats).pagesServed | Should -BeLessOrEqual 4
    }

    It 'stops promptly when the pipeline is stopped (Ctrl+C) and cancels the paging' {
        Set-EmulatorConfig @{ pageDelayMs = 400 }
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript({
                    param($Manifest, $Parameters)
                    Import-Module $Manifest
                    $null = Connect-ExchangeMfa @Parameters -PageSize 100
                    Get-Mailbox -ResultSize Unlimited | ForEach-Object { $_.Name }
                }).AddArgument((Join-Path $PSScriptRoot '../../ExchangeMfa.psd1')).AddArgument((Get-TestConnectParameters))
            $output = [System.Management.Automation.PSDataCollection[psobject]]::new()
            $run = $ps.BeginInvoke([System.Management.Automation.PSDataCollection[psobject]]::new(), $output)
            $deadline = [datetime]::UtcNow.AddSeconds(30)
            while ($output.Count -lt 150 -and [datetime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 50 }
            $output.Count | Should -BeGreaterOrEqual 150
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            $ps.Stop()
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 2
            $served = (Get-EmulatorStats).pagesServed
            Start-Sleep -Milliseconds 1500
            # Nothing more is fetched after the stop (one page may have been in flight).
            (Get-EmulatorStats).pagesServed | Should -BeLessOrEqual ($served + 1)
            (Get-EmulatorStats).pagesServed | Should -BeLessThan 10
        }
        finally {
            $ps.Commands.Clear()
            $null = $ps.AddScript({ Remove-Module ExchangeMfa }).Invoke()
            $ps.Dispose()
        }
    }

    It 'streams: the first mailbox arrives long before the last page' {
        Set-EmulatorConfig @{ pageDelayMs = 300 }
        $clock = [System.Diagnostics.Stopwatch]::StartNew()
        $firstAt = $null
        Get-Mailbox -ResultSize 800 | ForEach-Object { if ($null -eq $firstAt) { $firstAt = $clock.Elapsed.TotalSeconds } }
        $total = $clock.Elapsed.TotalSeconds
        $firstAt | Should -BeLessThan ($total - 1.0)
    }

    It 'shows progress only for reads of more than one page' {
        # Progress records are collected by a PowerShell instance of its own
        # (a runspace of its own, sharing the process's helper: it ends only
        # the connection it made).
        $ps = [powershell]::Create()
        try {
            $manifest = Join-Path $PSScriptRoot '../../ExchangeMfa.psd1'
            $null = $ps.AddScript({
                    param($Manifest, $Parameters)
                    Import-Module $Manifest
                    $global:childConnection = Connect-ExchangeMfa @Parameters -PageSize 100
                    Get-Mailbox -ResultSize 60 | Out-Null
                }).AddArgument($manifest).AddArgument((Get-TestConnectParameters))
            $null = $ps.Invoke()
            $ps.Streams.Error | Should -BeNullOrEmpty
            @($ps.Streams.Progress).Count | Should -Be 0
            $ps.Commands.Clear()
            $null = $ps.AddScript({
                    Get-Mailbox -ResultSize 250 -ConnectionId $global:childConnection.ConnectionId | Out-Null
                    Disconnect-ExchangeMfa -ConnectionId $global:childConnection.ConnectionId -Confirm:$false
                })
            $null = $ps.Invoke()
            $ps.Streams.Error | Should -BeNullOrEmpty
            $records = @($ps.Streams.Progress | Where-Object { $_.Activity -like 'Get-Mailbox*' })
            $records.Count | Should -BeGreaterThan 1
            $records[0].StatusDescription | Should -Match '100 objects'
            $records[-1].RecordType | Should -Be 'Completed'
        }
        finally { $ps.Dispose() }
    }

    It 'accepts identities from the pipeline by property name' {
        $boxes = @([pscustomobject]@{ Identity = 'user00002' }, [pscustomobject]@{ Identity = 'shared00050' }) | Get-Mailbox
        $boxes.Name | Should -Be @('user00002', 'shared00050')
        $boxes[1].RecipientTypeDetails | Should -Be 'SharedMailbox'
    }

    It 'filters by -RecipientTypeDetails and -Filter' {
        $rooms = @(Get-Mailbox -ResultSize Unlimited -RecipientTypeDetails RoomMailbox)
        $rooms.Count | Should -Be 12
        $rooms.RecipientTypeDetails | Sort-Object -Unique | Should -Be 'RoomMailbox'
        $filtered = @(Get-Mailbox -Filter "Name -like 'shared*'" -ResultSize Unlimited)
        $filtered.Count | Should -BeGreaterThan 0
        $filtered.Name | ForEach-Object { $_ | Should -BeLike 'shared*' }
    }

    It 'reports an unknown -Identity as ExchangeMfa.NotFound, non-terminating' {
        $result = Get-Mailbox -Identity nosuchbox -ErrorVariable problems -ErrorAction SilentlyContinue
        $result | Should -BeNullOrEmpty
        $problems.Count | Should -Be 1
        $problems[0].FullyQualifiedErrorId | Should -Be 'ExchangeMfa.NotFound,Get-Mailbox'
        $problems[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $problems[0].TargetObject | Should -Be 'nosuchbox'
        $problems[0].ErrorDetails.RecommendedAction | Should -Not -BeNullOrEmpty
    }

    It 'goes on with the next input after a not-found identity' {
        $boxes = @('user00001', 'nosuchbox', 'user00003') | ForEach-Object { [pscustomobject]@{ Identity = $_ } } |
            Get-Mailbox -ErrorVariable problems -ErrorAction SilentlyContinue
        $boxes.Name | Should -Be @('user00001', 'user00003')
        $problems.Count | Should -Be 1
    }

    It 'honours -ErrorAction Stop for a not-found identity' {
        { Get-Mailbox -Identity nosuchbox -ErrorAction Stop } | Should -Throw -ErrorId 'ExchangeMfa.NotFound,Get-Mailbox'
    }
}

Describe 'Invoke-ExchangeMfaCommand' {
    BeforeEach {
        Invoke-EmulatorControl -Path reset | Out-Null
    }

    It 'runs a cmdlet by name, typed by its noun' {
        $boxes = @(Invoke-ExchangeMfaCommand -Name Get-Mailbox -Parameters @{ RecipientTypeDetails = 'SharedMailbox' } -ResultSize 5)
        $boxes.Count | Should -Be 5
        $boxes[0].PSObject.TypeNames[0] | Should -Be 'ExchangeMfa.Mailbox'
        $config = Invoke-ExchangeMfaCommand Get-OrganizationConfig
        $config.PSObject.TypeNames[0] | Should -Be 'ExchangeMfa.OrganizationConfig'
    }

    It 'honours -PageSize for one call' {
        @(Invoke-ExchangeMfaCommand Get-Mailbox -ResultSize 90 -PageSize 30).Count | Should -Be 90
        (Get-EmulatorStats).pagesServed | Should -Be 3
    }

    It 'serves a nested request while a read streams (Get-Mailbox | Set-Mailbox)' {
        $changed = Get-Mailbox -ResultSize 250 -RecipientTypeDetails UserMailbox | ForEach-Object {
            Invoke-ExchangeMfaCommand Set-Mailbox @{ Identity = $_.Identity; RetentionPolicy = 'Pester Policy' }
            $_.Identity
        }
        @($changed).Count | Should -Be 250
        (Get-Mailbox -Identity $changed[-1]).RetentionPolicy | Should -Be 'Pester Policy'
        (Get-Mailbox -Identity $changed[0]).RetentionPolicy | Should -Be 'Pester Policy'
    }

    It 'reports a bad -ConnectionId as a terminating ConnectionNotFound' {
        { Invoke-ExchangeMfaCommand Get-Mailbox -ConnectionId 'no-such-id' -ResultSize 1 } |
            Should -Throw -ErrorId 'ExchangeMfa.ConnectionNotFound,ExchangeMfa.InvokeExchangeMfaCommandCommand'
    }
}
