# The Exchange proxy commands against the emulator: what Connect costs for
# them (nothing unprefixed, aliases with -Prefix), each command family does
# real work on the emulator's in-memory tenant, -WhatIf/-Confirm stop changes
# before anything is sent, pipeline binding, errors, and two tenants at once
# with prefixes.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    $script:emulator = Start-TestSession -Mailboxes 300
    Reset-Emulator
    $script:contoso = Get-TestConnectParameters

    # What Connect costs for the proxies (the sign-in itself excluded):
    # time and managed memory, without and with a prefix.
    function Measure-ProxyImport {
        [CmdletBinding()]
        param([string] $Prefix)
        [ExchangeMfa.ModuleScope]::Invoke({
            param($Prefix, $Cmdlet)
            Remove-ExchangeProxyModule -All
            [System.GC]::Collect(); [System.GC]::WaitForPendingFinalizers()
            $before = [System.GC]::GetTotalMemory($true)
            $watch = [System.Diagnostics.Stopwatch]::StartNew()
            Import-ExchangeProxyModule -ConnectionId 'measure' -Prefix $Prefix -Organization 'contoso.test' -Cmdlet $Cmdlet
            $watch.Stop()
            $after = [System.GC]::GetTotalMemory($true)
            [pscustomobject]@{ Milliseconds = $watch.ElapsedMilliseconds; Bytes = $after - $before }
            Remove-ExchangeProxyModule -All
        }, @($Prefix, $PSCmdlet))
    }
}

AfterAll {
    Stop-TestSession
    Remove-Module TestSupport -ErrorAction Ignore
}

Describe 'Connect makes the commands' {
    AfterAll { Disconnect-ExchangeMfa -Confirm:$false -ErrorAction Ignore }

    It 'imports nothing without a prefix, and only aliases with one' {
        $null = Measure-ProxyImport -Prefix Warm   # warm-up: the name list, first alias module
        $plain = Measure-ProxyImport
        $prefixed = Measure-ProxyImport -Prefix Contoso
        $count = [ExchangeMfa.CommandCatalog]::Names.Count
        Write-Host ("Proxy figures: unprefixed {0} ms, {1:N2} MB; -Prefix ({2} aliases) {3} ms, {4:N2} MB" -f
            $plain.Milliseconds, ($plain.Bytes / 1MB), $count, $prefixed.Milliseconds, ($prefixed.Bytes / 1MB))
        $plain.Milliseconds | Should -BeLessThan 200
        $plain.Bytes | Should -BeLessThan 1MB
        $prefixed.Milliseconds | Should -BeLessThan 3000
        $prefixed.Bytes | Should -BeLessThan 10MB
    }

    It 'Connect -CommandName checks the names; every command stays available; Disconnect loads nothing back' {
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        $connection = Connect-ExchangeMfa @script:contoso -CommandName Get-Mailbox, Set-Mailbox
        Write-Host "Connect-ExchangeMfa -CommandName Get-Mailbox, Set-Mailbox (device sign-in included): $($watch.ElapsedMilliseconds) ms"
        $connection.ModulePrefix | Should -Be ''
        Get-Module ExchangeMfa.Prefix.* | Should -BeNullOrEmpty
        @(Get-Mailbox -ResultSize 3).Count | Should -Be 3
        (Get-Command Get-Mailbox).Source | Should -BeLike 'ExchangeMfa.Commands.*'
        @(Get-Recipient -ResultSize 2).Count | Should -Be 2
        Disconnect-ExchangeMfa -Confirm:$false
        { Get-Mailbox -ErrorAction Stop } | Should -Throw -ErrorId 'ExchangeMfa.NotConnected,Get-Mailbox'
    }
}

Describe 'Generated commands on one connection' {
    BeforeAll {
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        $script:connection = Connect-ExchangeMfa @script:contoso
        Write-Host "Connect-ExchangeMfa with the whole catalogue (device sign-in included): $($watch.ElapsedMilliseconds) ms"
    }
    BeforeEach { Invoke-EmulatorControl -Path reset | Out-Null }

    It 'Get-Help and tab completion work on the live commands' {
        (Get-Help Set-Mailbox).Synopsis | Should -Be 'Changes mailbox objects (Exchange Online).'
        $line = 'Set-MailboxIRMAccess -AccessLevel Bl'
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Be @('Block')
    }

    It 'Get-EXOMailbox runs the underlying cmdlet with the Minimum property set' {
        $boxes = @(Get-EXOMailbox -ResultSize 2)
        $boxes.Count | Should -Be 2
        $boxes[0].PSObject.Properties.Name | Should -Contain 'PrimarySmtpAddress'
        $boxes[0].PSObject.Properties.Name | Should -Not -Contain 'ProhibitSendQuota'
        { Get-EXOMailbox -PropertySets Nope -ErrorAction Stop } | Should -Throw -ErrorId 'ExchangeMfa.InvalidParameter,Get-EXOMailbox'
    }

    It 'a Security & Compliance cmdlet does not use the Exchange Online connection' {
        { Get-ComplianceSearch -ErrorAction Stop } | Should -Throw -ErrorId 'ExchangeMfa.NotConnected,Get-ComplianceSearch' -ExpectedMessage '*Connect-IPPSSession*'
    }

    It 'Get-Mailbox -ResultSize Unlimited | Set-Mailbox -WhatIf binds Identity by property name and sends nothing' {
        $boxes = @(Get-Mailbox -ResultSize 50)
        (Get-EmulatorStats).exchangeRequests | Should -Be 1
        $boxes | Set-Mailbox -HiddenFromAddressListsEnabled $true -WhatIf
        (Get-EmulatorStats).exchangeRequests | Should -Be 1
        Get-Mailbox -ResultSize Unlimited | Set-Mailbox -HiddenFromAddressListsEnabled $true -WhatIf
        $stats = Get-EmulatorStats
        $stats.exchangeRequests | Should -Be 2   # the two Get-Mailbox calls only
    }

    It 'every state-changing family sends nothing with -WhatIf' {
        Set-Mailbox user00001 -DisplayName 'Not sent' -WhatIf
        New-Mailbox -Name pester-whatif -Shared -WhatIf
        Remove-Mailbox user00001 -WhatIf
        Enable-Mailbox user00001 -Archive -WhatIf
        Disable-Mailbox user00001 -Archive -WhatIf
        Set-User user00001 -Department Nowhere -WhatIf
        Add-MailboxPermission user00001 -User user00002 -AccessRights FullAccess -WhatIf
        Remove-MailboxPermission user00001 -User user00002 -AccessRights FullAccess -WhatIf
        Add-RecipientPermission user00001 -Trustee user00002 -AccessRights SendAs -WhatIf
        Add-MailboxFolderPermission 'user00001:\Calendar' -User user00002 -AccessRights Reviewer -WhatIf
        New-DistributionGroup -Name pester-whatif -WhatIf
        Update-DistributionGroupMember pester-whatif -Members user00001 -WhatIf
        New-UnifiedGroup -DisplayName pester-whatif -WhatIf
        Add-UnifiedGroupLinks pester-whatif -LinkType Members -Links user00001 -WhatIf
        Set-CASMailbox user00001 -PopEnabled $false -WhatIf
        New-InboxRule -Name pester-whatif -Mailbox user00001 -MarkAsRead $true -WhatIf
        Disable-TransportRule pester-whatif -WhatIf
        New-MailContact -Name pester-whatif -ExternalEmailAddress a@example.com -WhatIf
        Remove-MailUser pester-whatif -WhatIf
        (Get-EmulatorStats).exchangeRequests | Should -Be 0
    }

    It '-Confirm:$false sends the change and the next Get sees it (Set-Mailbox from the pipeline)' {
        Get-Mailbox -ResultSize 3 | Set-Mailbox -HiddenFromAddressListsEnabled $true -RetentionPolicy 'Pester' -Confirm:$false
        $boxes = @(Get-Mailbox -ResultSize 3)
        $boxes.HiddenFromAddressListsEnabled | Should -Be @($true, $true, $true)
        $boxes.RetentionPolicy | Should -Be @('Pester', 'Pester', 'Pester')
    }

    It 'a High-impact command asks first; declining sends nothing' {
        # ConfirmPreference Low makes even Medium commands ask; a host that
        # cannot prompt fails the prompt, which proves it was asked before
        # anything went out.
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript({
                    param($manifest, $connect, $ca)
                    $env:EXCHANGEMFA_CA_FILE = $ca
                    Import-Module $manifest
                    $connection = Connect-ExchangeMfa @connect -CommandName Remove-Mailbox
                    try { Remove-Mailbox user00001 -ErrorAction Stop; 'not asked' } catch { $_.FullyQualifiedErrorId }
                    # The helper and its connections are the process's: only this one goes.
                    Disconnect-ExchangeMfa -ConnectionId $connection.ConnectionId -Confirm:$false
                }).AddArgument((Join-Path $PSScriptRoot '../../ExchangeMfa.psd1')).AddArgument($script:contoso).AddArgument($script:emulator.CaFile)
            $result = @($ps.Invoke())
            $result[-1] | Should -Match 'HostException|PromptNotSupported|NotSupported|Prompt'
            (Get-EmulatorStats).exchangeRequests | Should -Be 0
        }
        finally { $ps.Dispose() }
    }

    It 'maps Exchange exception classes to error records (<command>)' -ForEach @(
        @{ command = 'unknown cmdlet'; script = { Invoke-ExchangeMfaCommand Get-NoSuchThing -ErrorAction Stop }; id = 'ExchangeMfa.CommandNotFound'; category = 'ObjectNotFound' }
        @{ command = 'unknown parameter'; script = { Invoke-ExchangeMfaCommand Get-Mailbox @{ NoSuchParameter = 1 } -ErrorAction Stop }; id = 'ExchangeMfa.InvalidParameter'; category = 'InvalidArgument' }
        @{ command = 'not found'; script = { Get-Recipient -Identity nosuchrecipient -ErrorAction Stop }; id = 'ExchangeMfa.NotFound'; category = 'ObjectNotFound' }
    ) {
        $failure = $null
        try { & $script } catch { $failure = $_ }
        $failure | Should -Not -BeNullOrEmpty
        ($failure.FullyQualifiedErrorId -split ',')[0] | Should -Be $id
        $failure.CategoryInfo.Category | Should -Be $category
    }

    It 'keeps a SecureString out of verbose and debug output' {
        $password = ConvertTo-SecureString 'Pester-S3cret!' -AsPlainText -Force
        $output = New-MailUser -Name pester-mailuser0 -MicrosoftOnlineServicesID pester-mailuser0@contoso.onmicrosoft.com `
            -Password $password -Confirm:$false -Verbose -Debug -ErrorAction SilentlyContinue 4>&1 5>&1 2>&1 | Out-String
        $output | Should -Not -Match 'Pester-S3cret'
        Get-Content $script:emulator.Log -Raw | Should -Not -Match 'Pester-S3cret'
    }
}

# These need the emulator to run the catalogue on its in-memory tenant (a
# Set- visible to the next Get-); they fail until it does.
Describe 'Command families against the in-memory tenant' {
    BeforeAll {
        $script:connection = Connect-ExchangeMfa @script:contoso
        $script:when = [datetime]::UtcNow
    }
    AfterAll { Disconnect-ExchangeMfa -Confirm:$false -ErrorAction Ignore }

    It 'Mailbox: New, Get, Set, Enable/Disable archive, Remove' {
        $box = New-Mailbox -Name pester-shared -Shared -DisplayName 'Pester Shared' -Confirm:$false
        $box.PSObject.TypeNames[0] | Should -Be 'ExchangeMfa.Mailbox'
        (Get-Mailbox pester-shared).RecipientTypeDetails | Should -Be 'SharedMailbox'
        Set-Mailbox pester-shared -DisplayName 'Pester Renamed' -Confirm:$false
        (Get-Mailbox pester-shared).DisplayName | Should -Be 'Pester Renamed'
        Enable-Mailbox pester-shared -Archive -Confirm:$false | Out-Null
        (Get-Mailbox pester-shared).ArchiveStatus | Should -Be 'Active'
        Disable-Mailbox pester-shared -Archive -Confirm:$false | Out-Null
        (Get-Mailbox pester-shared).ArchiveStatus | Should -Be 'None'
        Remove-Mailbox pester-shared -Confirm:$false
        { Get-Mailbox pester-shared -ErrorAction Stop } | Should -Throw -ErrorId 'ExchangeMfa.NotFound,Get-Mailbox'
    }

    It 'Recipient and User: Get-Recipient, Get-User, Set-User' {
        @(Get-Recipient -ResultSize 10).Count | Should -Be 10
        (Get-User user00001).PSObject.TypeNames[0] | Should -Be 'ExchangeMfa.User'
        Set-User user00001 -Department Pester -Confirm:$false
        (Get-User user00001).Department | Should -Be 'Pester'
    }

    It 'Statistics: Get-MailboxStatistics and Get-MailboxFolderStatistics, from the pipeline' {
        $stats = Get-Mailbox user00001 | Get-MailboxStatistics
        $stats.ItemCount | Should -BeGreaterOrEqual 0
        $stats.TotalItemSize | Should -Not -BeNullOrEmpty
        $folders = @(Get-MailboxFolderStatistics user00001)
        $folders.Count | Should -BeGreaterThan 1
        $folders.Name | Should -Contain 'Inbox'
    }

    It 'MailboxPermission: Add, Get, Remove' {
        Add-MailboxPermission user00001 -User user00002 -AccessRights FullAccess -AutoMapping $false -Confirm:$false | Out-Null
        $granted = @(Get-MailboxPermission user00001 -User user00002)
        $granted.AccessRights | Should -Contain 'FullAccess'
        Remove-MailboxPermission user00001 -User user00002 -AccessRights FullAccess -Confirm:$false
        @(Get-MailboxPermission user00001 -User user00002 -ErrorAction SilentlyContinue |
                Where-Object { $_.AccessRights -contains 'FullAccess' }).Count | Should -Be 0
    }

    It 'RecipientPermission: Add, Get, Remove SendAs' {
        Add-RecipientPermission user00001 -Trustee user00003 -AccessRights SendAs -Confirm:$false | Out-Null
        @(Get-RecipientPermission user00001 -Trustee user00003).AccessRights | Should -Contain 'SendAs'
        Remove-RecipientPermission user00001 -Trustee user00003 -AccessRights SendAs -Confirm:$false
        @(Get-RecipientPermission user00001 -Trustee user00003 -ErrorAction SilentlyContinue).Count | Should -Be 0
    }

    It 'MailboxFolderPermission: Add, Set, Get, Remove' {
        Add-MailboxFolderPermission 'user00001:\Calendar' -User user00002 -AccessRights Reviewer -Confirm:$false | Out-Null
        Set-MailboxFolderPermission 'user00001:\Calendar' -User user00002 -AccessRights Editor -Confirm:$false
        (Get-MailboxFolderPermission 'user00001:\Calendar' -User user00002).AccessRights | Should -Contain 'Editor'
        Remove-MailboxFolderPermission 'user00001:\Calendar' -User user00002 -Confirm:$false
        @(Get-MailboxFolderPermission 'user00001:\Calendar' -User user00002 -ErrorAction SilentlyContinue).Count | Should -Be 0
    }

    It 'DistributionGroup and members: New, Set, Add/Get/Update/Remove members, Remove' {
        New-DistributionGroup -Name pester-dl -Members user00001, user00002 -Confirm:$false | Out-Null
        Set-DistributionGroup pester-dl -DisplayName 'Pester DL' -Confirm:$false
        (Get-DistributionGroup pester-dl).DisplayName | Should -Be 'Pester DL'
        Add-DistributionGroupMember pester-dl -Member user00003 -Confirm:$false
        @(Get-DistributionGroupMember pester-dl).Count | Should -Be 3
        Remove-DistributionGroupMember pester-dl -Member user00001 -Confirm:$false
        @(Get-DistributionGroupMember pester-dl).Name | Should -Not -Contain 'user00001'
        Update-DistributionGroupMember pester-dl -Members user00004, user00005 -Confirm:$false
        @(Get-DistributionGroupMember pester-dl).Name | Sort-Object | Should -Be @('user00004', 'user00005')
        Remove-DistributionGroup pester-dl -Confirm:$false
        { Get-DistributionGroup pester-dl -ErrorAction Stop } | Should -Throw -ErrorId 'ExchangeMfa.NotFound,Get-DistributionGroup'
    }

    It 'UnifiedGroup and links: New, Set, Add/Get/Remove links, Remove' {
        New-UnifiedGroup -DisplayName 'Pester Team' -Alias pester-team -AccessType Private -Confirm:$false | Out-Null
        Set-UnifiedGroup pester-team -Notes 'from Pester' -Confirm:$false
        (Get-UnifiedGroup pester-team).Notes | Should -Be 'from Pester'
        Add-UnifiedGroupLinks pester-team -LinkType Members -Links user00001, user00002 -Confirm:$false
        @(Get-UnifiedGroupLinks pester-team -LinkType Members).Count | Should -Be 2
        Remove-UnifiedGroupLinks pester-team -LinkType Members -Links user00001 -Confirm:$false
        @(Get-UnifiedGroupLinks pester-team -LinkType Members).Count | Should -Be 1
        Remove-UnifiedGroup pester-team -Confirm:$false
        { Get-UnifiedGroup pester-team -ErrorAction Stop } | Should -Throw -ErrorId 'ExchangeMfa.NotFound,Get-UnifiedGroup'
    }

    It 'CASMailbox: Set then Get' {
        Set-CASMailbox user00001 -PopEnabled $false -ImapEnabled $false -Confirm:$false
        $cas = Get-CASMailbox user00001
        $cas.PopEnabled | Should -BeFalse
        $cas.ImapEnabled | Should -BeFalse
    }

    It 'InboxRule: New, Get, Disable/Enable, Set, Remove' {
        New-InboxRule -Name pester-rule -Mailbox user00001 -SubjectContainsWords 'pester' -MarkAsRead $true -Confirm:$false | Out-Null
        (Get-InboxRule -Mailbox user00001).Name | Should -Contain 'pester-rule'
        Disable-InboxRule pester-rule -Mailbox user00001 -Confirm:$false
        (Get-InboxRule pester-rule -Mailbox user00001).Enabled | Should -BeFalse
        Enable-InboxRule pester-rule -Mailbox user00001 -Confirm:$false
        Set-InboxRule pester-rule -Mailbox user00001 -Priority 1 -Confirm:$false
        $rule = Get-InboxRule pester-rule -Mailbox user00001
        $rule.Enabled | Should -BeTrue
        Remove-InboxRule pester-rule -Mailbox user00001 -Confirm:$false
        (Get-InboxRule -Mailbox user00001 -ErrorAction SilentlyContinue).Name | Should -Not -Contain 'pester-rule'
    }

    It 'TransportRule: New, Get, Disable/Enable, Set, Remove' {
        New-TransportRule -Name pester-transport -SubjectContainsWords 'secret' -PrependSubject '[ext] ' -Confirm:$false | Out-Null
        Disable-TransportRule pester-transport -Confirm:$false
        (Get-TransportRule pester-transport).State | Should -Be 'Disabled'
        Enable-TransportRule pester-transport -Confirm:$false
        Set-TransportRule pester-transport -Comments 'from Pester' -Confirm:$false
        $rule = Get-TransportRule pester-transport
        $rule.State | Should -Be 'Enabled'
        $rule.Comments | Should -Be 'from Pester'
        Remove-TransportRule pester-transport -Confirm:$false
        @(Get-TransportRule -ErrorAction SilentlyContinue).Name | Should -Not -Contain 'pester-transport'
    }

    It 'Reporting: Get-MessageTrace | Get-MessageTraceDetail, Search-UnifiedAuditLog, organization, domains, devices' {
        $traces = @(Get-MessageTrace -StartDate $script:when.AddDays(-2) -EndDate $script:when)
        $traces.Count | Should -BeGreaterThan 0
        @($traces[0] | Get-MessageTraceDetail).Count | Should -BeGreaterThan 0
        @(Search-UnifiedAuditLog -StartDate $script:when.AddDays(-1) -EndDate $script:when -ResultSize 10).Count | Should -BeGreaterThan 0
        (Get-OrganizationConfig).PSObject.TypeNames[0] | Should -Be 'ExchangeMfa.OrganizationConfig'
        @(Get-AcceptedDomain).DomainName | Should -Contain 'contoso.onmicrosoft.com'
        { Get-MobileDevice -Mailbox user00001 -ErrorAction Stop } | Should -Not -Throw
    }

    It 'MailContact: New, Get, Set, Remove' {
        New-MailContact -Name pester-contact -ExternalEmailAddress pester@example.com -Confirm:$false | Out-Null
        Set-MailContact pester-contact -DisplayName 'Pester Contact' -Confirm:$false
        (Get-MailContact pester-contact).DisplayName | Should -Be 'Pester Contact'
        Remove-MailContact pester-contact -Confirm:$false
        { Get-MailContact pester-contact -ErrorAction Stop } | Should -Throw -ErrorId 'ExchangeMfa.NotFound,Get-MailContact'
    }

    It 'MailUser: New (with a SecureString password), Get, Set, Remove' {
        $password = ConvertTo-SecureString 'Pester-S3cret!' -AsPlainText -Force
        New-MailUser -Name pester-mailuser -MicrosoftOnlineServicesID pester-mailuser@contoso.onmicrosoft.com `
            -ExternalEmailAddress pester-mailuser@example.com -Password $password -Confirm:$false | Out-Null
        Set-MailUser pester-mailuser -DisplayName 'Pester Mail User' -Confirm:$false
        (Get-MailUser pester-mailuser).DisplayName | Should -Be 'Pester Mail User'
        Remove-MailUser pester-mailuser -Confirm:$false
        { Get-MailUser pester-mailuser -ErrorAction Stop } | Should -Throw -ErrorId 'ExchangeMfa.NotFound,Get-MailUser'
    }
}

Describe 'Two tenants at once with prefixes' {
    BeforeAll {
        Reset-Emulator
        $script:first = Connect-ExchangeMfa @script:contoso -Prefix Contoso -CommandName Get-Mailbox, Set-Mailbox, Get-AcceptedDomain
        Set-EmulatorConfig @{ autoApprove = 'admin@fabrikam.onmicrosoft.com' }
        $fabrikam = Get-TestConnectParameters -UserPrincipalName admin@fabrikam.onmicrosoft.com
        $script:second = Connect-ExchangeMfa @fabrikam -Organization fabrikam.onmicrosoft.com -Prefix Fabrikam
    }
    AfterAll { Disconnect-ExchangeMfa -Confirm:$false -ErrorAction Ignore }

    It 'gives each connection its own commands, bound to its tenant' {
        $script:first.ModulePrefix | Should -Be 'Contoso'
        (Get-Module ExchangeMfa.Prefix.Contoso).ExportedAliases.Count | Should -Be 3
        (Get-Module ExchangeMfa.Prefix.Fabrikam).ExportedAliases.Count | Should -BeGreaterOrEqual 700  # the Exchange Online proxies
        Get-Command Get-ContosoRecipient -ErrorAction Ignore | Should -BeNullOrEmpty
        @(Get-ContosoMailbox -ResultSize Unlimited).Count | Should -Be 300
        @(Get-FabrikamMailbox -ResultSize Unlimited).Count | Should -Be 50
        # The first connection stays the default: a prefix does not take it.
        (Get-ExchangeMfaConnection | Where-Object IsDefault).ConnectionId | Should -Be $script:first.ConnectionId
    }

    It 'sends a change to the right tenant only' {
        Get-FabrikamMailbox -ResultSize 2 | Set-FabrikamMailbox -RetentionPolicy 'Fabrikam Policy' -Confirm:$false
        @(Get-FabrikamMailbox -ResultSize 2).RetentionPolicy | Should -Be @('Fabrikam Policy', 'Fabrikam Policy')
        @(Get-ContosoMailbox -ResultSize 2).RetentionPolicy | Should -Not -Contain 'Fabrikam Policy'
    }

    It 'takes -ConnectionId for one call' {
        @(Get-ContosoMailbox -ResultSize Unlimited -ConnectionId $script:second.ConnectionId).Count | Should -Be 50
    }

    It 'the unprefixed commands use the default connection (the first: a prefix does not take it)' {
        @(Get-Mailbox -ResultSize Unlimited).Count | Should -Be 300
    }

    It 'Disconnect removes only that connection''s commands' {
        Disconnect-ExchangeMfa -ConnectionId $script:second.ConnectionId -Confirm:$false
        Get-Module ExchangeMfa.Prefix.Fabrikam | Should -BeNullOrEmpty
        Get-Command Get-FabrikamMailbox -ErrorAction Ignore | Should -BeNullOrEmpty
        @(Get-ContosoMailbox -ResultSize 5).Count | Should -Be 5
    }
}

Describe '-DelegatedOrganization' {
    AfterAll { Disconnect-ExchangeMfa -Confirm:$false -ErrorAction Ignore }

    It 'sends requests to the customer tenant' {
        Reset-Emulator
        $null = Connect-ExchangeMfa @script:contoso -DelegatedOrganization fabrikam.onmicrosoft.com -CommandName Get-Mailbox
        # fabrikam has 50 mailboxes, contoso 300.
        @(Get-Mailbox -ResultSize Unlimited).Count | Should -Be 50
    }
}
