# ExoCmdlets.Resolve (module/Types/ExchangeProxy.cs): a Get-EXO* call -> the underlying InvokeCommand
# cmdlet, its parameters and $select (module/Data/PropertySets.json; the
# rules are Microsoft's: docs/catalogue.md). A pure function: no helper.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../../ExchangeMfa.psd1') -Force
    function Resolve-Exo([string] $Name, [System.Collections.IDictionary] $Parameters) {
        [ExchangeMfa.ExoCmdlets]::Resolve($Name, $Parameters)
    }
    $sets = (Get-Content -Raw (Join-Path $PSScriptRoot '../../module/Data/PropertySets.json') | ConvertFrom-Json -AsHashtable).cmdlets
}

AfterAll {
    Remove-Module ExchangeMfa -ErrorAction Ignore
}

Describe 'ExoCmdlets.Resolve' {
    It 'returns $null for <_>, which is not a Get-EXO* cmdlet' -ForEach 'Get-Mailbox', 'Set-Mailbox', 'Get-EXOSomethingElse' {
        Resolve-Exo $_ ([ordered]@{ Identity = 'x' }) | Should -BeNullOrEmpty
    }

    It 'runs <exo> as <underlying>' -ForEach @(
        @{ exo = 'Get-EXOMailbox'; underlying = 'Get-Mailbox' }
        @{ exo = 'Get-EXORecipient'; underlying = 'Get-Recipient' }
        @{ exo = 'Get-EXOCasMailbox'; underlying = 'Get-CASMailbox' }
        @{ exo = 'Get-EXOMailboxPermission'; underlying = 'Get-MailboxPermission' }
        @{ exo = 'Get-EXORecipientPermission'; underlying = 'Get-RecipientPermission' }
        @{ exo = 'Get-EXOMailboxStatistics'; underlying = 'Get-MailboxStatistics' }
        @{ exo = 'Get-EXOMailboxFolderStatistics'; underlying = 'Get-MailboxFolderStatistics' }
        @{ exo = 'Get-EXOMailboxFolderPermission'; underlying = 'Get-MailboxFolderPermission' }
        @{ exo = 'Get-EXOMobileDeviceStatistics'; underlying = 'Get-MobileDeviceStatistics' }
    ) {
        (Resolve-Exo $exo ([ordered]@{})).CmdletName | Should -BeExactly $underlying
    }

    It 'selects the Minimum set by default, in the documented order' {
        $r = Resolve-Exo 'Get-EXOMailbox' ([ordered]@{ ResultSize = 10 })
        $r.Select | Should -Be $sets['Get-EXOMailbox'].minimum
        $r.Select | Should -Contain 'UserPrincipalName'
        $r.Select | Should -Not -Contain 'ArchiveGuid'
        $r.Parameters.ResultSize | Should -Be 10
    }

    It 'unions the named property sets, each name once, matching set names case-insensitively' {
        $r = Resolve-Exo 'Get-EXOMailbox' ([ordered]@{ PropertySets = @('archive', 'Audit') })
        $expected = @($sets['Get-EXOMailbox'].sets.Archive) + @($sets['Get-EXOMailbox'].sets.Audit) | Select-Object -Unique
        $r.Select | Should -Be $expected
        # Both sets carry ExternalDirectoryObjectId; the Minimum set is not added.
        @($r.Select | Where-Object { $_ -eq 'ExternalDirectoryObjectId' }).Count | Should -Be 1
        $r.Select | Should -Not -Contain 'Alias'
        $r.Parameters.Contains('PropertySets') | Should -BeFalse
    }

    It 'adds -Properties to the Minimum set' {
        $r = Resolve-Exo 'Get-EXOMailbox' ([ordered]@{ Identity = 'john@contoso.com'; Properties = @('LitigationHoldEnabled', 'Alias') })
        $r.Select | Should -Be (@($sets['Get-EXOMailbox'].minimum) + 'LitigationHoldEnabled')
        $r.Parameters.Keys | Should -Be @('Identity')
    }

    It 'adds -Properties to the named sets' {
        $r = Resolve-Exo 'Get-EXOMailboxStatistics' ([ordered]@{ Identity = 'u'; PropertySets = 'Minimum'; Properties = 'SystemMessageSize' })
        $r.Select | Should -Be (@($sets['Get-EXOMailboxStatistics'].minimum) + 'SystemMessageSize')
    }

    It 'selects nothing (every property) for the All set, whatever else is asked' {
        $r = Resolve-Exo 'Get-EXOCasMailbox' ([ordered]@{ PropertySets = @('Ews', 'All'); Properties = 'Name' })
        $r.Select | Should -BeNullOrEmpty
        $r.Parameters.Count | Should -Be 0
    }

    It 'refuses a property set the cmdlet does not have' {
        { Resolve-Exo 'Get-EXORecipient' ([ordered]@{ PropertySets = 'Quota' }) } | Should -Throw '*unknown property set*Quota*'
    }

    It 'selects nothing for a cmdlet without property sets, and passes its parameters on' {
        $r = Resolve-Exo 'Get-EXOMailboxFolderPermission' ([ordered]@{ Identity = 'john:\Calendar'; User = 'ann' })
        $r.Select | Should -BeNullOrEmpty
        $r.Parameters.Keys | Should -Be @('Identity', 'User')
    }

    It 'sends -<param> as -Identity, which is what the underlying cmdlet takes' -ForEach @(
        @{ param = 'UserPrincipalName'; value = 'john@contoso.com' }
        @{ param = 'PrimarySmtpAddress'; value = 'john@contoso.com' }
        @{ param = 'ExternalDirectoryObjectId'; value = [guid]'0b7c1b9a-0000-4000-8000-000000000001' }
    ) {
        $r = Resolve-Exo 'Get-EXOMailbox' ([ordered]@{ ResultSize = 1; $param = $value })
        $r.Parameters.Keys | Should -Be @('Identity', 'ResultSize')
        $r.Parameters.Identity | Should -BeExactly ([string]$value)
    }

    It 'refuses two ways of naming the object at once' {
        { Resolve-Exo 'Get-EXOMailbox' ([ordered]@{ Identity = 'a'; UserPrincipalName = 'b' }) } | Should -Throw '*only one*'
    }

    It 'never sends the client-side -Async switch' {
        (Resolve-Exo 'Get-EXOMailbox' ([ordered]@{ Async = [switch]$true })).Parameters.Count | Should -Be 0
    }

    It 'leaves the caller''s dictionary alone' {
        $p = [ordered]@{ UserPrincipalName = 'u'; Properties = 'Alias' }
        $null = Resolve-Exo 'Get-EXOMailbox' $p
        $p.Keys | Should -Be @('UserPrincipalName', 'Properties')
    }
}
