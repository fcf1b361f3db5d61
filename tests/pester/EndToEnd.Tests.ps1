# The whole path: device sign-in, 2,500 mailboxes over 25 pages while the
# access token expires and is revoked mid-stream, then disconnect.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    $script:emulator = Start-TestEmulator -Mailboxes 2500
    Import-Module (Join-Path $PSScriptRoot '../../ExchangeMfa.psd1') -Force
}

AfterAll {
    Disconnect-ExchangeMfa -Confirm:$false -ErrorAction Ignore
    Remove-Module ExchangeMfa -ErrorAction Ignore
    Stop-TestEmulator
    Remove-Module TestSupport -ErrorAction Ignore
}

Describe 'End to end' {
    It 'signs in, streams 2,500 mailboxes through token expiry and revocation, and disconnects' {
        Reset-Emulator
        # Tokens live 4 s; 25 pages 250 ms apart take over 6 s, so the token
        # passes its refresh time mid-stream; the revocation half-way forces
        # the 401 path on top.
        Set-EmulatorConfig @{ tokenLifetime = 4; pageDelayMs = 250 }
        $parameters = Get-TestConnectParameters
        $connection = Connect-ExchangeMfa @parameters -PageSize 100
        $connection.State | Should -Be 'Connected'

        $count = 0
        $names = [System.Collections.Generic.HashSet[string]]::new()
        Get-Mailbox -ResultSize Unlimited | ForEach-Object {
            $count++
            [void]$names.Add($_.Guid)
            if ($count -eq 1250) { Invoke-EmulatorControl -Path revoke-access-tokens | Out-Null }
        }
        $count | Should -Be 2500
        $names.Count | Should -Be 2500

        $stats = Get-EmulatorStats
        $stats.pagesServed | Should -BeGreaterOrEqual 25
        $stats.tokenRequests.refresh_token | Should -BeGreaterOrEqual 1
        $stats.unauthorized | Should -BeGreaterOrEqual 1

        (Get-ExchangeMfaConnection).TokenExpiresUtc | Should -BeGreaterThan $connection.TokenExpiresUtc
        Disconnect-ExchangeMfa -Confirm:$false
        Get-ExchangeMfaConnection | Should -BeNullOrEmpty
        Get-TestHelperProcessId | Should -BeNullOrEmpty
    }
}
