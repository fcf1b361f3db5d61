# The catalogue (module/Data/ExchangeCommands.json) and the proxy commands
# generated from it, without a service: schema, parameter contract, help,
# tab completion, -WhatIf before any connection is used, prefixes and
# removal. Commands against the emulator are in Commands.Tests.ps1.

BeforeDiscovery {
    $script:catalogPath = Join-Path $PSScriptRoot '../../module/Data/ExchangeCommands.json'
    $script:entries = (Get-Content $script:catalogPath -Raw | ConvertFrom-Json).commands |
        ForEach-Object { @{ Name = $_.name; Entry = $_ } }
}

BeforeAll {
    $script:catalogPath = Join-Path $PSScriptRoot '../../module/Data/ExchangeCommands.json'
    $script:catalog = Get-Content $script:catalogPath -Raw | ConvertFrom-Json
    Import-Module (Join-Path $PSScriptRoot '../../ExchangeMfa.psd1') -Force
    $script:common = [System.Management.Automation.PSCmdlet]::CommonParameters +
        [System.Management.Automation.PSCmdlet]::OptionalCommonParameters
    $script:fakeId = '00000000-0000-4000-8000-000000000001'

    # Generates proxies as Connect does, bound to a connection id that does
    # not exist: what runs before the helper is asked can be tested alone.
    function Import-TestProxy([string] $Prefix, [string[]] $CommandName) {
        & (Get-Module ExchangeMfa) {
            [CmdletBinding()]
            param($Id, $Prefix, $Names)
            Import-ExchangeProxyModule -ConnectionId $Id -Prefix $Prefix -CommandName $Names -Organization 'contoso.test' -Cmdlet $PSCmdlet
        } $script:fakeId $Prefix $CommandName
    }
    function Remove-TestProxy { & (Get-Module ExchangeMfa) { Remove-ExchangeProxyModule -All } }
}

AfterAll {
    Remove-TestProxy
    Remove-Module ExchangeMfa -ErrorAction Ignore
}

Describe 'The catalogue' {
    It 'is version 1 with at least 60 commands, each named once' {
        $script:catalog.version | Should -Be 1
        $script:catalog.commands.Count | Should -BeGreaterOrEqual 60
        ($script:catalog.commands.name | Sort-Object -Unique).Count | Should -Be $script:catalog.commands.Count
    }

    It 'has every cmdlet the issue lists' {
        $wanted = @(
            'Get-Mailbox', 'Set-Mailbox', 'New-Mailbox', 'Remove-Mailbox', 'Enable-Mailbox', 'Disable-Mailbox',
            'Get-Recipient', 'Get-User', 'Set-User', 'Get-MailboxStatistics', 'Get-MailboxFolderStatistics',
            'Get-MailboxPermission', 'Add-MailboxPermission', 'Remove-MailboxPermission',
            'Get-RecipientPermission', 'Add-RecipientPermission', 'Remove-RecipientPermission',
            'Get-MailboxFolderPermission', 'Add-MailboxFolderPermission', 'Set-MailboxFolderPermission', 'Remove-MailboxFolderPermission',
            'Get-DistributionGroup', 'New-DistributionGroup', 'Set-DistributionGroup', 'Remove-DistributionGroup',
            'Get-DistributionGroupMember', 'Add-DistributionGroupMember', 'Remove-DistributionGroupMember', 'Update-DistributionGroupMember',
            'Get-UnifiedGroup', 'New-UnifiedGroup', 'Set-UnifiedGroup', 'Remove-UnifiedGroup',
            'Get-UnifiedGroupLinks', 'Add-UnifiedGroupLinks', 'Remove-UnifiedGroupLinks', 'Get-CASMailbox', 'Set-CASMailbox',
            'Get-InboxRule', 'New-InboxRule', 'Set-InboxRule', 'Remove-InboxRule', 'Enable-InboxRule', 'Disable-InboxRule',
            'Get-TransportRule', 'New-TransportRule', 'Set-TransportRule', 'Remove-TransportRule', 'Enable-TransportRule', 'Disable-TransportRule',
            'Get-MessageTrace', 'Get-MessageTraceDetail', 'Search-UnifiedAuditLog', 'Get-OrganizationConfig', 'Get-AcceptedDomain',
            'Get-MobileDevice', 'Get-MailContact', 'New-MailContact', 'Set-MailContact', 'Remove-MailContact',
            'Get-MailUser', 'New-MailUser', 'Set-MailUser', 'Remove-MailUser')
        $missing = $wanted | Where-Object { $_ -notin $script:catalog.commands.name }
        $missing | Should -BeNullOrEmpty
    }
}

Describe 'Catalogue entry <Name>' -ForEach $script:entries {
    It 'is well formed' {
        $verb, $noun = $Name -split '-', 2
        $noun | Should -Not -BeNullOrEmpty
        (Get-Verb -Verb $verb) | Should -Not -BeNullOrEmpty -Because "$verb must be an approved verb"
        $Entry.changesState | Should -Be ($verb -notin 'Get', 'Search')
        $Entry.confirmImpact | Should -BeIn @('None', 'Low', 'Medium', 'High')
        if ($Entry.changesState) { $Entry.confirmImpact | Should -Not -Be 'None' }
        $Entry.synopsis | Should -Match '^[A-Z].*\.$'
        $Entry.outputType | Should -Match '^ExchangeMfa\.\w+$'
        $types = 'string', 'string[]', 'int', 'long', 'bool', 'switch', 'datetime', 'guid', 'hashtable',
        'hashtable[]', 'byte[]', 'securestring', 'unlimited', 'enum', 'object'
        $names = @($Entry.parameters.name)
        ($names | Sort-Object -Unique).Count | Should -Be $names.Count
        foreach ($parameter in $Entry.parameters) {
            $parameter.name | Should -Match '^[A-Z][A-Za-z0-9]+$'
            $parameter.type | Should -BeIn $types
            $parameter.help | Should -Not -BeNullOrEmpty -Because "-$($parameter.name) needs help"
            if ($parameter.type -eq 'enum') { @($parameter.values).Count | Should -BeGreaterThan 0 }
        }
    }
}

Describe 'Generated proxy commands' {
    BeforeAll {
        Remove-TestProxy
        $script:elapsed = Measure-Command { Import-TestProxy }
    }

    It 'are made for every catalogue command in one module, quickly' {
        $module = Get-Module ExchangeMfa.Commands
        $module | Should -Not -BeNullOrEmpty
        $module.ExportedFunctions.Count | Should -Be $script:catalog.commands.Count
        $script:elapsed.TotalSeconds | Should -BeLessThan 5
    }

    It 'Get-Mailbox keeps its contract: Identity (position 0, pipeline), ResultSize defaulting to 1000, ConnectionId' {
        $command = Get-Command Get-Mailbox
        $command.Source | Should -Be 'ExchangeMfa.Commands'
        $names = $command.Parameters.Keys | Where-Object { $_ -notin $script:common }
        foreach ($name in 'Identity', 'ResultSize', 'Filter', 'RecipientTypeDetails', 'Anr', 'Archive', 'ConnectionId') {
            $names | Should -Contain $name
        }
        $identity = $command.Parameters.Identity.Attributes.Where({ $_ -is [Parameter] -and $_.ParameterSetName -eq 'Identity' })
        $identity.Position | Should -Be 0
        $identity.ValueFromPipelineByPropertyName | Should -BeTrue
        $command.DefaultParameterSet | Should -Be 'Identity'
        $command.Parameters.Archive.SwitchParameter | Should -BeTrue
        $default = $command.ScriptBlock.Ast.Body.ParamBlock.Parameters |
            Where-Object { $_.Name.VariablePath.UserPath -eq 'ResultSize' }
        $default.DefaultValue.Value | Should -Be '1000'
        $command.OutputType.Name | Should -Be 'ExchangeMfa.Mailbox'
    }

    It 'validates -ResultSize (a number or Unlimited) and enums before anything is sent' {
        { Get-Mailbox -ResultSize 0 } | Should -Throw -ErrorId 'ParameterArgumentValidationError,Get-Mailbox'
        { Get-Mailbox -ResultSize Lots } | Should -Throw -ErrorId 'ParameterArgumentValidationError,Get-Mailbox'
        { Get-Mailbox -RecipientTypeDetails NoSuchType } | Should -Throw -ErrorId 'ParameterArgumentValidationError,Get-Mailbox'
        # Valid values get past validation and stop at "not connected".
        { Get-Mailbox -ResultSize Unlimited } | Should -Throw -ErrorId 'ExchangeMfa.NotConnected,Get-Mailbox'
        { Get-Mailbox -ResultSize 25 -RecipientTypeDetails sharedmailbox } | Should -Throw -ErrorId 'ExchangeMfa.NotConnected,Get-Mailbox'
    }

    It 'have the catalogue''s parameter sets, mandatory parameters and types' {
        $new = Get-Command New-Mailbox
        $new.ParameterSets.Name | Sort-Object | Should -Be @('Equipment', 'Room', 'Shared', 'User')
        $new.DefaultParameterSet | Should -Be 'User'
        $new.Parameters.Password.ParameterType | Should -Be ([securestring])
        $new.Parameters.Name.Attributes.Where({ $_ -is [Parameter] }).Mandatory | Should -BeTrue
        (Get-Command Add-MailboxPermission).Parameters.AccessRights.ParameterType | Should -Be ([string[]])
        (Get-Command Get-MessageTrace).Parameters.StartDate.ParameterType | Should -Be ([datetime])
        (Get-Command Get-MessageTrace).Parameters.MessageTraceId.ParameterType | Should -Be ([guid])
        (Get-Command Set-Mailbox).Parameters.HiddenFromAddressListsEnabled.ParameterType | Should -Be ([bool])
        $rights = (Get-Command Add-MailboxPermission).Parameters.AccessRights.Attributes |
            Where-Object { $_ -is [System.Management.Automation.ValidateSetAttribute] }
        $rights.ValidValues | Should -Contain 'FullAccess'
    }

    It 'support ShouldProcess with the catalogue''s ConfirmImpact exactly for state-changing verbs' {
        foreach ($entry in $script:catalog.commands) {
            $binding = (Get-Command $entry.name).ScriptBlock.Attributes |
                Where-Object { $_ -is [System.Management.Automation.CmdletBindingAttribute] }
            $binding.SupportsShouldProcess | Should -Be ([bool]$entry.changesState) -Because $entry.name
            if ($entry.changesState) { [string]$binding.ConfirmImpact | Should -Be $entry.confirmImpact -Because $entry.name }
        }
        (Get-Command Remove-Mailbox).Parameters.Keys | Should -Contain 'WhatIf'
        (Get-Command Get-Mailbox).Parameters.Keys | Should -Not -Contain 'WhatIf'
    }

    It '-WhatIf stops a change before the connection is even looked up' {
        # Not connected at all: a command that got past ShouldProcess would
        # fail with NotConnected.
        Set-Mailbox -Identity user00001 -HiddenFromAddressListsEnabled $true -WhatIf -ErrorAction Stop
        Remove-Mailbox -Identity user00001 -WhatIf -ErrorAction Stop
        { Set-Mailbox -Identity user00001 -DisplayName X -Confirm:$false } | Should -Throw -ErrorId 'ExchangeMfa.NotConnected,Set-Mailbox'
    }

    It 'Get-Help shows the synopsis, a description and every parameter with its help' {
        foreach ($name in 'Get-Mailbox', 'Set-Mailbox', 'Add-MailboxPermission', 'Search-UnifiedAuditLog') {
            $entry = $script:catalog.commands | Where-Object name -eq $name
            $help = Get-Help $name -Full
            $help.Synopsis | Should -Be $entry.synopsis
            ($help.Description | Out-String) | Should -Match "Exchange Online's $name"
            foreach ($parameter in $entry.parameters) {
                $text = ($help.Parameters.Parameter | Where-Object Name -eq $parameter.name).Description | Out-String
                $text | Should -Match ([regex]::Escape(($parameter.help -split '\.')[0])) -Because "-$($parameter.name) of $name"
            }
            @($help.Examples.Example).Count | Should -BeGreaterOrEqual 1
        }
    }

    It 'tab-completes parameter names and enum values' {
        $line = 'Set-Mailbox -HiddenFrom'
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText |
            Should -Contain '-HiddenFromAddressListsEnabled'
        $line = 'Add-MailboxPermission -AccessRights Full'
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText |
            Should -Be @('FullAccess')
        $line = 'Get-UnifiedGroupLinks -LinkType '
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText |
            Should -Contain 'Owners'
    }
}

Describe 'Prefixes and -CommandName' {
    BeforeAll { Remove-TestProxy }
    AfterAll { Remove-TestProxy }

    It 'makes only the named commands, with the prefix in the noun' {
        Import-TestProxy -Prefix Contoso -CommandName get-mailbox, Set-Mailbox
        $module = Get-Module ExchangeMfa.Commands.Contoso
        $module.ExportedFunctions.Keys | Sort-Object | Should -Be @('Get-ContosoMailbox', 'Set-ContosoMailbox')
        Get-Command Get-Mailbox -ErrorAction Ignore | Should -BeNullOrEmpty
        Get-Command Get-ContosoRecipient -ErrorAction Ignore | Should -BeNullOrEmpty
        (Get-Help Get-ContosoMailbox).Synopsis | Should -Be 'Gets Exchange Online mailboxes.'
    }

    It 'keeps several prefixes side by side and removes one without the other' {
        Import-TestProxy -Prefix Fabrikam -CommandName Get-Mailbox
        Get-Command Get-ContosoMailbox, Get-FabrikamMailbox | Should -HaveCount 2
        & (Get-Module ExchangeMfa) { Remove-ExchangeProxyModule -ConnectionId 'no-such-connection' }
        Get-Command Get-FabrikamMailbox | Should -HaveCount 1
        Remove-TestProxy
        Get-Command Get-ContosoMailbox, Get-FabrikamMailbox -ErrorAction Ignore | Should -BeNullOrEmpty
        Get-Module ExchangeMfa.Commands* | Should -BeNullOrEmpty
    }
}
