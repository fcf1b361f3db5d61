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
        $background = Start-BackgroundConnect -Parameters (Get-TestConnectParameters) -WaitFor DeviceCode
        try {
            $background.Shown | Should -Not -BeNullOrEmpty -Because 'the device code must be shown while Connect waits'
            # Let it poll a couple of times (interval 1 s), then press Ctrl+C.
            Start-Sleep -Milliseconds 2500
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            $background.PowerShell.Stop()
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 2

            $before = (Get-EmulatorStats).tokenRequests.device_code
            $before | Should -BeGreaterThan 0 -Because 'the helper polled before the cancel'
            Start-Sleep -Milliseconds 3000
            (Get-EmulatorStats).tokenRequests.device_code | Should -Be $before -Because 'a cancelled sign-in polls no more'
        }
        finally { Stop-BackgroundConnect -Background $background }
    }
}
