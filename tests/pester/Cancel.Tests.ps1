# Ctrl+C during a device code sign-in: Connect stops at once and the helper
# stops polling the token endpoint (issue 3: "the helper stops polling at once").

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    $script:emulator = Start-TestEmulator -Mailboxes 10 -AutoApprove ''
}

AfterAll {
    Stop-TestEmulator
    Remove-Module TestSupport -ErrorAction Ignore
}

Describe 'Cancelling a device code sign-in' {
    It 'ends Connect within 2 s of Ctrl+C and polls no more' {
        # Connect runs in a PowerShell instance of its own; Stop() is what
        # Ctrl+C does to a running pipeline.
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript({
                    param($Manifest, $Parameters)
                    Import-Module $Manifest
                    Connect-ExchangeMfa @Parameters
                }).AddArgument((Join-Path $PSScriptRoot '../../ExchangeMfa.psd1')).AddArgument((Get-TestConnectParameters))
            $run = $ps.BeginInvoke()
            $deadline = [datetime]::UtcNow.AddSeconds(30)
            $code = $null
            while (-not $code -and [datetime]::UtcNow -lt $deadline -and -not $run.IsCompleted) {
                Start-Sleep -Milliseconds 100
                $code = $ps.Streams.Information | Where-Object { $_.Tags -contains 'DeviceCode' } | Select-Object -First 1
            }
            $code | Should -Not -BeNullOrEmpty -Because 'the device code must be shown while Connect waits'
            # Let it poll a couple of times (interval 1 s), then press Ctrl+C.
            Start-Sleep -Milliseconds 2500
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            $ps.Stop()
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 2

            $before = (Get-EmulatorStats).tokenRequests.device_code
            $before | Should -BeGreaterThan 0 -Because 'the helper polled before the cancel'
            Start-Sleep -Milliseconds 3000
            (Get-EmulatorStats).tokenRequests.device_code | Should -Be $before -Because 'a cancelled sign-in polls no more'
        }
        finally { $ps.Dispose() }
    }
}
