# The whole path: device sign-in, 2,500 mailboxes over 25 pages while the
# access token expires and is revoked mid-stream, then disconnect.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    $script:emulator = Start-TestSession -Mailboxes 2500
}

AfterAll {
    Stop-TestSession
    Remove-Module TestSupport -ErrorAction Ignore
}

Describe 'End to end' {
    It 'signs in, streams 2,500 mailboxes through token expiry and revocation, and disconnects' {
        Reset-Emulator
        # Phase 1, expiry: tokens live 4 s and 25 pages 250 ms apart take over
        # 6 s, so the token passes its refresh time mid-stream.
        Set-EmulatorConfig @{ tokenLifetime = 4; pageDelayMs = 250 }
        $parameters = Get-TestConnectParameters
        $connection = Connect-ExchangeMfa @parameters -PageSize 100
        $connection.State | Should -Be 'Connected'

        $count = 0
        $names = [System.Collections.Generic.HashSet[string]]::new()
        Get-Mailbox -ResultSize Unlimited | ForEach-Object { $count++; [void]$names.Add($_.Guid) }
        $count | Should -Be 2500
        $names.Count | Should -Be 2500
        $stats = Get-EmulatorStats
        $stats.pagesServed | Should -BeGreaterOrEqual 25
        $stats.tokenRequests.refresh_token | Should -BeGreaterOrEqual 2

        # Phase 2, revocation: once the helper holds an hour-long token it
        # renews nothing by itself, so the page after the revocation must
        # take the 401 path: renew, retry the page, lose and repeat nothing.
        Set-EmulatorConfig @{ tokenLifetime = 3600; pageDelayMs = 50 }
        Start-Sleep -Seconds 3     # past the 4 s token's refresh time
        $null = Get-Mailbox -ResultSize 1
        $unauthorizedBefore = (Get-EmulatorStats).unauthorized
        $count = 0
        $names.Clear()
        Get-Mailbox -ResultSize Unlimited | ForEach-Object {
            $count++
            [void]$names.Add($_.Guid)
            if ($count -eq 1250) { Invoke-EmulatorControl -Path revoke-access-tokens | Out-Null }
        }
        $count | Should -Be 2500
        $names.Count | Should -Be 2500
        (Get-EmulatorStats).unauthorized | Should -BeGreaterThan $unauthorizedBefore

        (Get-ExchangeMfaConnection).TokenExpiresUtc | Should -BeGreaterThan $connection.TokenExpiresUtc
        Disconnect-ExchangeMfa -Confirm:$false
        Get-ExchangeMfaConnection | Should -BeNullOrEmpty
        Get-TestHelperProcessId | Should -BeNullOrEmpty
    }
}
