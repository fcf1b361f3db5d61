# What goes wrong: declined, expired and refused sign-ins, a wrong tenant,
# a malformed Exchange answer, and a helper that dies mid-session.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    $script:emulator = Start-TestSession -Mailboxes 500
}

AfterAll {
    Stop-TestSession
    Remove-Module TestSupport -ErrorAction Ignore
}

Describe 'Failed sign-ins' {
    BeforeEach {
        Reset-Emulator
    }

    It 'a declined device code is a terminating AuthorizationDeclined' {
        Set-EmulatorConfig @{ autoApprove = '' }
        # Connect waits for the code to be used, so it runs in a PowerShell
        # instance of its own while this one plays the user who declines.
        $background = Start-BackgroundConnect -Parameters (Get-TestConnectParameters) -WaitFor DeviceCode
        try {
            $background.Shown | Should -Not -BeNullOrEmpty -Because 'the device code must be shown while Connect waits'
            Invoke-EmulatorControl -Path device/deny -Body @{ userCode = $background.Shown.UserCode } | Out-Null
            # The terminating error ends Connect; the runspace keeps it in its error stream.
            $null = $background.PowerShell.EndInvoke($background.Handle)
            $failure = $background.PowerShell.Streams.Error | Select-Object -First 1
            $failure.FullyQualifiedErrorId | Should -Be 'ExchangeMfa.AuthorizationDeclined,ExchangeMfa.ConnectExchangeMfaCommand'
            [string]$failure.CategoryInfo.Category | Should -Be 'AuthenticationError'
        }
        finally { Stop-BackgroundConnect -Background $background }
    }

    It 'an expired device code is a terminating DeviceCodeExpired' {
        Set-EmulatorConfig @{ autoApprove = ''; deviceExpires = 2 }
        $parameters = Get-TestConnectParameters
        $clock = [System.Diagnostics.Stopwatch]::StartNew()
        { Connect-ExchangeMfa @parameters } | Should -Throw -ErrorId 'ExchangeMfa.DeviceCodeExpired,ExchangeMfa.ConnectExchangeMfaCommand'
        $clock.Elapsed.TotalSeconds | Should -BeLessThan 20
        $Error[0].CategoryInfo.Category | Should -Be 'OperationTimeout'
    }

    It 'a disabled account is a terminating AccountDisabled' {
        Set-EmulatorConfig @{ autoApprove = 'disabled@contoso.onmicrosoft.com' }
        $parameters = Get-TestConnectParameters -UserPrincipalName disabled@contoso.onmicrosoft.com
        { Connect-ExchangeMfa @parameters } | Should -Throw -ErrorId 'ExchangeMfa.AccountDisabled,ExchangeMfa.ConnectExchangeMfaCommand'
        $Error[0].CategoryInfo.Category | Should -Be 'AuthenticationError'
        $Error[0].ErrorDetails.RecommendedAction | Should -Not -BeNullOrEmpty
    }

    It 'a tenant that does not exist is a terminating ConfigurationError' {
        # The helper takes an explicit authority as is (-Organization only
        # picks the tenant of the default authority), so the wrong tenant
        # goes into the emulator's authority here.
        $parameters = Get-TestConnectParameters
        $parameters.AzureADAuthorizationEndpointUri = $script:emulator.Authority -replace '/organizations$', '/nosuch.onmicrosoft.com'
        { Connect-ExchangeMfa @parameters -Organization nosuch.onmicrosoft.com } |
            Should -Throw -ErrorId 'ExchangeMfa.ConfigurationError,ExchangeMfa.ConnectExchangeMfaCommand'
        $Error[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        $Error[0].Exception.Message | Should -Not -BeNullOrEmpty
    }

    It 'an unknown application id is a terminating ConfigurationError' {
        $parameters = Get-TestConnectParameters
        { Connect-ExchangeMfa @parameters -AppId 11111111-2222-3333-4444-555555555555 } |
            Should -Throw -ErrorId 'ExchangeMfa.ConfigurationError,ExchangeMfa.ConnectExchangeMfaCommand'
    }

    It 'a failed first sign-in leaves no helper running' {
        Get-TestHelperProcessId | Should -BeNullOrEmpty
    }
}

Describe 'Broken answers and a dying helper' {
    BeforeAll {
        # A page cut short is asked again with backoff: short waits here.
        $env:EXCHANGEMFA_RETRY_BASE_MS = '20'
    }

    AfterAll {
        Remove-Item Env:EXCHANGEMFA_RETRY_BASE_MS -ErrorAction Ignore
    }

    BeforeEach {
        Reset-Emulator
        $parameters = Get-TestConnectParameters
        $script:connection = Connect-ExchangeMfa @parameters -PageSize 50
    }

    AfterEach {
        Disconnect-ExchangeMfa -Confirm:$false -ErrorAction Ignore
    }

    It 'one page cut short is asked again for a Get- cmdlet: every object arrives once' {
        Set-EmulatorConfig @{ faults = @{ exchange = @(@{ kind = 'malformed' }) } }
        $boxes = @(Get-Mailbox -ResultSize 10 -ErrorVariable problems -ErrorAction SilentlyContinue)
        $problems.Count | Should -Be 0
        @($boxes.Name | Sort-Object -Unique).Count | Should -Be 10
    }

    It 'an answer malformed every time is ExchangeMfa.BadResponse and the connection keeps working' {
        # One more than the retries (EM_EXO_RETRIES_MAX, 5): the last answer stands.
        $malformed = @(1..6 | ForEach-Object { @{ kind = 'malformed' } })
        Set-EmulatorConfig @{ faults = @{ exchange = $malformed } }
        # Objects parsed before the cut may already have streamed out.
        $boxes = @(Get-Mailbox -ResultSize 10 -ErrorVariable problems -ErrorAction SilentlyContinue)
        $boxes.Count | Should -BeLessThan 10
        $problems.Count | Should -Be 1
        $problems[0].FullyQualifiedErrorId | Should -Be 'ExchangeMfa.BadResponse,Get-Mailbox'
        $problems[0].CategoryInfo.Category | Should -Be 'ProtocolError'
        @(Get-Mailbox -ResultSize 10).Count | Should -Be 10
    }

    It 'a helper killed between commands gives a clear terminating error; Connect starts a new one' {
        $first = Get-TestHelperProcessId
        Stop-Process -Id $first -Force
        Start-Sleep -Milliseconds 200
        { Get-Mailbox -ResultSize 1 } | Should -Throw -ErrorId 'ExchangeMfa.HelperExited,Get-Mailbox'
        $Error[0].Exception.Message | Should -Match 'Connect-ExchangeMfa'
        # The state is gone: the commands (the module's own, loaded on use)
        # and the invoker say "not connected".
        { Get-Mailbox -ResultSize 1 } | Should -Throw -ErrorId 'ExchangeMfa.NotConnected,Get-Mailbox'
        { Invoke-ExchangeMfaCommand Get-Mailbox -ResultSize 1 } | Should -Throw -ErrorId 'ExchangeMfa.NotConnected,ExchangeMfa.InvokeExchangeMfaCommandCommand'
        $parameters = Get-TestConnectParameters
        $null = Connect-ExchangeMfa @parameters
        Get-TestHelperProcessId | Should -Not -Be $first
        @(Get-Mailbox -ResultSize 3).Count | Should -Be 3
    }

    It 'a helper killed mid-stream stops the pipeline with a clear terminating error' {
        Set-EmulatorConfig @{ pageDelayMs = 100 }
        $helperId = Get-TestHelperProcessId
        $seen = @{ Count = 0 }
        {
            Get-Mailbox -ResultSize Unlimited | ForEach-Object {
                $seen.Count++
                if ($seen.Count -eq 60) { Stop-Process -Id $helperId -Force }
            }
        } | Should -Throw -ErrorId 'ExchangeMfa.HelperExited,Get-Mailbox'
        $seen.Count | Should -BeLessThan 500
        Get-TestHelperProcessId | Should -BeNullOrEmpty
        $parameters = Get-TestConnectParameters
        $null = Connect-ExchangeMfa @parameters
        @(Get-Mailbox -ResultSize 2).Count | Should -Be 2
    }
}

Describe 'A helper that breaks the protocol or cannot start' -Skip:$IsWindows {
    BeforeAll {
        # The process's helper goes; each test starts a fake one (a shell
        # script as EXCHANGEMFA_HELPER), and the session connects again after.
        Disconnect-ExchangeMfa -Confirm:$false -ErrorAction Ignore
        $script:fakes = [System.IO.Directory]::CreateTempSubdirectory('exchangemfa-fake-').FullName
        function New-FakeHelper([string] $Name, [string] $Body) {
            $path = Join-Path $script:fakes $Name
            [System.IO.File]::WriteAllText($path, "#!/bin/sh`n$Body`n")
            [System.IO.File]::SetUnixFileMode($path, [System.IO.UnixFileMode]'UserRead, UserWrite, UserExecute')
            $path
        }
    }

    AfterEach {
        [ExchangeMfa.Helper]::Stop([ExchangeMfa.Helper]::Current, $null)
    }

    AfterAll {
        Remove-Item Env:EXCHANGEMFA_HELPER -ErrorAction Ignore
        Remove-Item -LiteralPath $script:fakes -Recurse -Force -ErrorAction Ignore
        $parameters = Get-TestConnectParameters
        $null = Connect-ExchangeMfa @parameters
    }

    It 'a line that is not JSON-RPC is a terminating ProtocolViolation' {
        # Answers initialize (request 1), then anything else with garbage.
        $env:EXCHANGEMFA_HELPER = New-FakeHelper 'garbage' @'
read line
echo '{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":1,"helperVersion":"fake"}}'
while read line; do echo 'this is not the protocol'; done
'@
        $parameters = Get-TestConnectParameters
        $failure = { Connect-ExchangeMfa @parameters } | Should -Throw -ErrorId 'ExchangeMfa.ProtocolViolation,ExchangeMfa.ConnectExchangeMfaCommand' -PassThru
        $failure.Exception.Message | Should -Match 'this is not the protocol'
    }

    It 'a helper that exits at once: HelperExited with what it said on stderr' {
        $env:EXCHANGEMFA_HELPER = New-FakeHelper 'dies' @'
echo 'fake-helper: libexample.so.1: cannot open shared object file' >&2
exit 3
'@
        $parameters = Get-TestConnectParameters
        $failure = { Connect-ExchangeMfa @parameters } | Should -Throw -ErrorId 'ExchangeMfa.HelperExited,ExchangeMfa.ConnectExchangeMfaCommand' -PassThru
        $failure.Exception.Message | Should -Match 'exit code 3'
        $failure.Exception.Message | Should -Match 'libexample\.so\.1: cannot open shared object file'
    }
}
