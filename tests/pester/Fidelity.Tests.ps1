# Issue 10: results and errors as the real service gives them, against the
# emulator speaking its dialect (both annotation styles, warnings after
# `value`, generic error.message, a non-JSON 403, pagination expiry).

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    # (the session tests use the persistent cache: Start-TestSession puts it
    # in the emulator's folder)
    $script:emulator = Start-TestSession -Mailboxes 1200
    Reset-Emulator
    $parameters = Get-TestConnectParameters
    $script:connection = Connect-ExchangeMfa @parameters -PageSize 100

    function Get-FaultError([hashtable] $Fault, [scriptblock] $Command) {
        Set-EmulatorConfig @{ faults = @{ exchange = @($Fault) } }
        $failure = $null
        try { & $Command -ErrorAction Stop | Out-Null } catch { $failure = $_ }
        $failure
    }
}

AfterAll {
    Stop-TestSession
    Remove-Module TestSupport -ErrorAction Ignore
}

Describe 'Results' {
    BeforeEach { Invoke-EmulatorControl -Path reset | Out-Null }

    It 'warns when ResultSize leaves rows unread (the warning follows value)' -ForEach @(@{ size = 5 }, @{ size = 100 }, @{ size = 150 }) {
        $boxes = @(Get-Mailbox -ResultSize $size -WarningVariable warned 3>$null)
        $boxes.Count | Should -Be $size
        $warned | Should -Match 'There are more results available'
    }

    It 'warns with the default ResultSize (1000) too' {
        $boxes = @(Get-Mailbox -WarningVariable warned 3>$null)
        $boxes.Count | Should -Be 1000
        $warned | Should -Match 'There are more results available'
    }

    It 'drops both annotation styles' {
        $box = Get-Mailbox -Identity user00007
        $box.PSObject.Properties.Name | Where-Object { $_ -like '*@*' } | Should -BeNullOrEmpty
    }

    It 'gives Guids, dates and sizes as objects' {
        $box = Get-Mailbox -Identity user00007
        $box.ExchangeGuid | Should -BeOfType [guid]
        $box.WhenCreated | Should -BeOfType [datetime]
        $box.ProhibitSendQuota.Value.ToMB() | Should -Be (99 * 1024)
        $box.ProhibitSendQuota.Value.ToGB() | Should -Be 99
        $box.ProhibitSendQuota.IsUnlimited | Should -BeFalse
        "$($box.ProhibitSendQuota)" | Should -Be '99 GB (106,300,440,576 bytes)'
        ($box.IssueWarningQuota -lt $box.ProhibitSendQuota) | Should -BeTrue
        ($box.ProhibitSendQuota -eq $box.ProhibitSendQuota.ToString()) | Should -BeTrue
    }
}

Describe 'Default tables' {
    # (Get-Mailbox's: Mailbox.Tests.ps1)
    It '<command> shows Microsoft''s columns' -ForEach @(
        @{ command = 'Get-MailboxStatistics'; parameters = @{ Identity = 'user00007' }; columns = 'DisplayName', 'ItemCount', 'StorageLimitStatus', 'LastLogonTime' }
        @{ command = 'Get-Recipient'; parameters = @{ ResultSize = 2 }; columns = 'Name', 'RecipientType' }
        @{ command = 'Get-User'; parameters = @{ ResultSize = 2 }; columns = 'Name', 'RecipientType' }
        @{ command = 'Get-MailboxPermission'; parameters = @{ Identity = 'user00007' }; columns = 'Identity', 'User', 'AccessRights', 'IsInherited', 'Deny' }
    ) {
        $text = & $command @parameters | Out-String -Width 250
        $header = ($text -split "`n" | Where-Object { $_ -match '\S' } | Select-Object -First 1)
        $header | Should -Match ('^' + ($columns -join '\s+'))
    }
}

Describe 'Errors' {
    BeforeEach { Invoke-EmulatorControl -Path reset | Out-Null }

    It 'shows the internal exception text and its category, without details or header' {
        $failure = Get-FaultError @{ kind = 'error'; shape = 'internal'; header = $false
            type = 'System.Management.Automation.CommandInvocation.ParameterTransformationException'
            message = "Cannot process argument transformation on parameter 'Identity'." } { Get-Mailbox -Identity x }
        $failure.Exception.Message | Should -Be "Cannot process argument transformation on parameter 'Identity'."
        $failure.CategoryInfo.Category | Should -Be 'InvalidArgument'
    }

    It 'reads details[0] with an empty id' {
        $failure = Get-FaultError @{ kind = 'error'; shape = 'details'; id = ''
            type = 'System.Management.Automation.AmbiguousParameterSetException'
            message = 'Parameter set cannot be resolved using the specified named parameters.' } { Get-Mailbox }
        $failure.Exception.Message | Should -Be 'Parameter set cannot be resolved using the specified named parameters.'
        $failure.CategoryInfo.Category | Should -Be 'InvalidArgument'
    }

    It 'says a missing role plainly when the 403 is not JSON, and names the cmdlet' {
        $failure = Get-FaultError @{ kind = 'noRole' } { Get-Mailbox }
        $failure.Exception.Message | Should -Match 'lacks the Exchange role .* Get-Mailbox'
        $failure.CategoryInfo.Category | Should -Be 'PermissionDenied'
    }

    It 'explains an expired page link; the objects delivered stay delivered' {
        Set-EmulatorConfig @{ faults = @{ exchange = @(@{ kind = 'expired'; page = 2 }) } }
        $boxes = [System.Collections.Generic.List[object]]::new()
        $failure = $null
        try { Get-Mailbox -ResultSize Unlimited -ErrorAction Stop | ForEach-Object { $boxes.Add($_) } } catch { $failure = $_ }
        $boxes.Count | Should -Be 100
        $failure.Exception.Message | Should -Match 'no longer accepts the link to page 2'
        $failure.Exception.Message | Should -Match '100 objects already delivered'
    }

    It 'keeps the affinity headers on every page (the emulator refuses a page that lost them)' {
        @(Get-Mailbox -ResultSize Unlimited).Count | Should -Be 1200
    }
}

Describe 'SecureString parameters' {
    It 'reach Exchange encrypted with its public key (the emulator refuses plain text)' {
        Invoke-EmulatorControl -Path reset | Out-Null
        $password = ConvertTo-SecureString 'Fidelity-Pa55!' -AsPlainText -Force
        $user = New-MailUser -Name Sealed -MicrosoftOnlineServicesID sealed@contoso.onmicrosoft.com `
            -ExternalEmailAddress sealed@example.net -Password $password -Confirm:$false -ErrorAction Stop 3>$null
        $user.Name | Should -Be 'Sealed'
    }
}

Describe 'Invoke-ExchangeMfaCommand and ShouldProcess' {
    BeforeEach { Invoke-EmulatorControl -Path reset | Out-Null }

    It 'sends nothing with -WhatIf, for catalogue and other state-changing cmdlets' -ForEach @(
        @{ name = 'Remove-Mailbox' }, @{ name = 'Set-Mailbox' }, @{ name = 'Set-SomethingNotInTheCatalogue' }) {
        Invoke-ExchangeMfaCommand $name @{ Identity = 'user00009' } -WhatIf -ErrorAction Stop | Should -BeNullOrEmpty
        (Get-EmulatorStats).stateChangingRequests | Should -Be 0
        (Get-EmulatorStats).exchangeRequests | Should -Be 0
    }

    It 'still reads without asking, and runs a change without -WhatIf' {
        @(Invoke-ExchangeMfaCommand Get-Mailbox @{ Identity = 'user00009' } -WhatIf).Count | Should -Be 1
        Invoke-ExchangeMfaCommand Set-Mailbox @{ Identity = 'user00009'; CustomAttribute1 = 'x' } -Confirm:$false 3>$null
        (Get-EmulatorStats).stateChangingRequests | Should -Be 1
    }
}

Describe 'Sessions' {
    BeforeAll {
        $script:common = @{
            ShowBanner                      = $false
            AzureADAuthorizationEndpointUri = $script:emulator.Authority
            ConnectionUri                   = $script:emulator.Url
        }
        $script:admin = 'admin@contoso.onmicrosoft.com'
        function Get-Failure([scriptblock] $Command) {
            $failure = $null
            try { & $Command | Out-Null } catch { $failure = $_ }
            $failure
        }
        # The helper's own list entry (state, tokenStatus) for a connection.
        function Get-ListedSession([string] $Id) {
            & {
                [CmdletBinding()] param($Id)
                [ExchangeMfa.Helper]::Current.List($PSCmdlet) | Where-Object connectionId -EQ $Id
            } $Id
        }
    }
    BeforeEach { Reset-Emulator; Set-EmulatorConfig @{ autoApprove = $script:admin; tokenLifetime = 3600 } }
    AfterEach { Disconnect-ExchangeMfa -Confirm:$false -ErrorAction Ignore }

    It '-Device refuses a code approved by another account than -UserPrincipalName, naming both' {
        Set-EmulatorConfig @{ autoApprove = 'user@contoso.onmicrosoft.com' }
        $failure = Get-Failure { Connect-ExchangeMfa @script:common -Device -UserPrincipalName $script:admin -InMemoryTokenCache }
        $failure.FullyQualifiedErrorId | Should -Be 'ExchangeMfa.AuthenticationFailed,ExchangeMfa.ConnectExchangeMfaCommand'
        $failure.Exception.Message | Should -Match 'user@contoso\.onmicrosoft\.com signed in, not admin@contoso\.onmicrosoft\.com'
    }

    It '-Credential checks the password even when the account is cached' {
        $secure = ConvertTo-SecureString 'P@ssw0rd!' -AsPlainText -Force
        $null = Connect-ExchangeMfa @script:common -Credential ([pscredential]::new('user@contoso.onmicrosoft.com', $secure))
        Disconnect-ExchangeMfa -Confirm:$false
        $wrong = [pscredential]::new('user@contoso.onmicrosoft.com', (ConvertTo-SecureString 'wrong' -AsPlainText -Force))
        $failure = Get-Failure { Connect-ExchangeMfa @script:common -Credential $wrong }
        $failure.FullyQualifiedErrorId | Should -Be 'ExchangeMfa.AuthenticationFailed,ExchangeMfa.ConnectExchangeMfaCommand'
    }

    It 'uses a cached account only for the tenant -Organization names' {
        $null = Connect-ExchangeMfa @script:common -Device -UserPrincipalName $script:admin
        Disconnect-ExchangeMfa -Confirm:$false
        (Connect-ExchangeMfa @script:common -Device -UserPrincipalName $script:admin -Organization contoso.onmicrosoft.com).SignInMode |
            Should -Be 'Silent'
        Disconnect-ExchangeMfa -Confirm:$false
        $failure = Get-Failure { Connect-ExchangeMfa @script:common -Device -UserPrincipalName $script:admin -Organization contsoo.onmicrosoft.com }
        $failure | Should -Not -BeNullOrEmpty
        Get-ExchangeMfaConnection | Should -BeNullOrEmpty
    }

    It 'State and TokenStatus tell the truth after the refresh token is revoked' {
        Set-EmulatorConfig @{ tokenLifetime = 200 }     # inside the renewal window at once
        $connection = Connect-ExchangeMfa @script:common -Device -UserPrincipalName $script:admin -InMemoryTokenCache
        (Get-ListedSession $connection.ConnectionId).tokenStatus | Should -Be 'Active'
        Invoke-EmulatorControl -Path revoke-refresh-tokens -Body @{ upn = $script:admin } | Out-Null
        Invoke-EmulatorControl -Path revoke-access-tokens | Out-Null
        $null = Get-Failure { Get-Mailbox -ResultSize 1 -ErrorAction Stop }
        (Get-ExchangeMfaConnection).State | Should -Be 'Broken'
        (Get-ListedSession $connection.ConnectionId).tokenStatus | Should -Be 'Revoked'
    }

    It 'State reads Broken once an -AccessToken expired' {
        Set-EmulatorConfig @{ tokenLifetime = 4 }
        $token = Get-TestAppAccessToken
        $connection = Connect-ExchangeMfa -AccessToken $token -Organization $script:emulator.Domain -ShowBanner:$false -ConnectionUri $script:emulator.Url
        $connection.State | Should -Be 'Connected'
        Start-Sleep -Seconds 5
        (Get-ExchangeMfaConnection).State | Should -Be 'Broken'
        (Get-ListedSession $connection.ConnectionId).tokenStatus | Should -Be 'Expired'
    }
}
