# The catalogue (module/Data/ExchangeCommands.json, v2) and the proxy modules
# the build generates from it (module/Commands), without a service:
# discovery without loading, the parameter contract, help before Connect,
# tab completion of unloaded groups, -WhatIf before any connection is used,
# prefix aliases, connection choice by product, typo suggestions and
# removal. Commands against the emulator are in Commands.Tests.ps1.

BeforeAll {
    $script:root = Join-Path $PSScriptRoot '../..'
    $script:catalog = Get-Content (Join-Path $script:root 'module/Data/ExchangeCommands.json') -Raw | ConvertFrom-Json
    $script:proxies = @($script:catalog.commands | Where-Object client -ne 'module')
    $script:commandsFolder = [System.IO.Path]::GetFullPath((Join-Path $script:root 'module/Commands'))
    Import-Module (Join-Path $script:root 'ExchangeMfa.psd1') -Force
    $script:common = [System.Management.Automation.PSCmdlet]::CommonParameters +
        [System.Management.Automation.PSCmdlet]::OptionalCommonParameters
    $script:fakeId = '00000000-0000-4000-8000-000000000001'

    # Makes prefix aliases as Connect does, for a connection id that does
    # not exist: what runs before the helper is asked can be tested alone.
    # Its errors are this function's, as Connect's are Connect's.
    function Import-TestProxy {
        [CmdletBinding()]
        param([string] $Prefix, [string[]] $CommandName, [string] $Id = $script:fakeId)
        $null = [ExchangeMfa.ModuleScope]::Call('Import-ExchangeProxyModule', @{
                ConnectionId = $Id; Prefix = $Prefix; CommandName = $CommandName; Organization = 'contoso.test'; Cmdlet = $PSCmdlet })
    }
    function Remove-TestProxy { $null = [ExchangeMfa.ModuleScope]::Call('Remove-ExchangeProxyModule', @{ All = $true }) }
    function Get-LoadedGroup { Get-Module 'ExchangeMfa.Commands.*' | ForEach-Object Name }
}

AfterAll {
    Remove-TestProxy
    Remove-Module ExchangeMfa -ErrorAction Ignore
}

Describe 'The catalogue' {
    It 'is version 2 with about a thousand commands, each named once, each with a product' {
        $script:catalog.version | Should -Be 2
        $script:catalog.commands.Count | Should -BeGreaterOrEqual 900
        ($script:catalog.commands.name | Sort-Object -Unique).Count | Should -Be $script:catalog.commands.Count
        @($script:catalog.commands | Where-Object { -not $_.products }).Count | Should -Be 0
    }

    It 'has every cmdlet the first issue listed' {
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
        $wanted | Where-Object { $_ -notin $script:catalog.commands.name } | Should -BeNullOrEmpty
    }
}

Describe 'The generated proxy modules' {
    It 'are small noun-family modules whose manifests list their functions' {
        $manifests = @(Get-ChildItem $script:commandsFolder -Filter 'ExchangeMfa.Commands.*.psd1' -Recurse)
        $manifests.Count | Should -BeGreaterOrEqual 30
        $manifests.Count | Should -BeLessOrEqual 60
        $listed = foreach ($manifest in $manifests) {
            $functions = @((Import-PowerShellDataFile $manifest.FullName).FunctionsToExport)
            $functions.Count | Should -BeLessOrEqual 40 -Because $manifest.Name
            $functions
        }
        @($listed | Sort-Object) | Should -Be @($script:proxies.name | Sort-Object)
    }

    It 'import puts module/Commands on PSModulePath and loads no group' {
        $env:PSModulePath -split [System.IO.Path]::PathSeparator | Should -Contain $script:commandsFolder
        Get-LoadedGroup | Should -BeNullOrEmpty
    }

    It 'makes every catalogue command discoverable without loading it' {
        $found = @(Get-Command -Name '*-*' -Module 'ExchangeMfa.Commands.*' -CommandType Function)
        @($found.Name | Sort-Object -Unique) | Should -Be @($script:proxies.name | Sort-Object)
        Get-LoadedGroup | Should -BeNullOrEmpty
    }

    It 'leaves out the commands ExchangeMfa implements itself (client "module")' {
        $own = @($script:catalog.commands | Where-Object client -eq 'module').name
        $own | Should -Not -BeNullOrEmpty
        Get-Command -Name $own -Module 'ExchangeMfa.Commands.*' -ErrorAction Ignore | Should -BeNullOrEmpty
    }
}

Describe 'Before Connect' {
    BeforeAll { Get-LoadedGroup | ForEach-Object { Remove-Module $_ -Force } }

    It 'Get-Help loads the group and shows our synopsis, the description, parameter facts and the online address' {
        $entry = $script:catalog.commands | Where-Object name -eq 'Get-QuarantineMessage'
        $help = Get-Help Get-QuarantineMessage -Full
        $help.Synopsis | Should -Be $entry.synopsis
        ($help.Description | Out-String) | Should -Match 'Runs Get-QuarantineMessage on Exchange Online or Security & Compliance through ExchangeMfa'
        $identity = $entry.parameters | Where-Object name -eq 'Identity'
        ($help.Parameters.Parameter | Where-Object Name -eq 'Identity').Description | Out-String | Should -Match $identity.typeName
        (Get-Command Get-QuarantineMessage).HelpUri | Should -Be $entry.onlineUri
        Get-LoadedGroup | Should -Contain (Get-Command Get-QuarantineMessage).ModuleName
    }

    It 'Get-Help works in every group (its first command): synopsis from the catalogue, syntax from the param block' {
        $bySynopsis = @{}
        foreach ($entry in $script:proxies) { $bySynopsis[$entry.name] = $entry.synopsis }
        foreach ($manifest in Get-ChildItem $script:commandsFolder -Filter 'ExchangeMfa.Commands.*.psd1' -Recurse) {
            $functions = @((Import-PowerShellDataFile $manifest.FullName).FunctionsToExport)
            foreach ($name in $functions[0]) {
                $help = Get-Help $name
                $help.Synopsis | Should -Be $bySynopsis[$name] -Because $name
                ($help.Syntax | Out-String) | Should -Match ([regex]::Escape($name)) -Because $name
            }
        }
    }

    It 'tab-completes a command name and the parameters of a group nobody loaded' {
        # A wildcard name: Get-Command answers from the manifests without loading.
        $group = (Get-Command -Name 'Get-DlpCompliancePolic[y]' -Module 'ExchangeMfa.Commands.*').ModuleName
        $group | Should -Not -BeNullOrEmpty
        Remove-Module $group -Force -ErrorAction Ignore
        Get-LoadedGroup | Should -Not -Contain $group
        $line = 'Get-DlpComplianceP'
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Contain 'Get-DlpCompliancePolicy'
        $line = 'Get-DlpCompliancePolicy -Distribution'
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Contain '-DistributionDetail'
    }

    It 'a proxy without a connection names the Connect commands of its products' {
        { Get-Mailbox -ErrorAction Stop } | Should -Throw -ErrorId 'ExchangeMfa.NotConnected,Get-Mailbox' -ExpectedMessage '*Connect-ExchangeOnline*Connect-ExchangeMfa*'
        { Get-ComplianceSearch -ErrorAction Stop } | Should -Throw -ErrorId 'ExchangeMfa.NotConnected,Get-ComplianceSearch' -ExpectedMessage '*Connect-IPPSSession*'
    }
}

Describe 'Proxy commands' {
    It 'Get-Mailbox keeps its contract: Identity (first position, pipeline), ResultSize defaulting to 1000, ConnectionId' {
        $command = Get-Command Get-Mailbox
        $command.Source | Should -BeLike 'ExchangeMfa.Commands.*'
        $names = $command.Parameters.Keys | Where-Object { $_ -notin $script:common }
        foreach ($name in 'Identity', 'ResultSize', 'Filter', 'RecipientTypeDetails', 'Anr', 'Archive', 'ConnectionId') {
            $names | Should -Contain $name
        }
        $identity = $command.Parameters.Identity.Attributes.Where({ $_ -is [Parameter] -and $_.ParameterSetName -eq 'Identity' })
        $identity.Position | Should -Be 1
        $identity.ValueFromPipeline | Should -BeTrue
        $command.DefaultParameterSet | Should -Be 'Identity'
        $command.Parameters.Archive.SwitchParameter | Should -BeTrue
        $default = $command.ScriptBlock.Ast.Body.ParamBlock.Parameters |
            Where-Object { $_.Name.VariablePath.UserPath -eq 'ResultSize' }
        $default.DefaultValue.Value | Should -Be '1000'
        $command.OutputType.Name | Should -Be 'ExchangeMfa.Mailbox'
    }

    It 'validates -ResultSize (a number or Unlimited) before anything is sent' {
        { Get-Mailbox -ResultSize 0 } | Should -Throw -ErrorId 'ParameterArgumentValidationError,Get-Mailbox'
        { Get-Mailbox -ResultSize Lots } | Should -Throw -ErrorId 'ParameterArgumentValidationError,Get-Mailbox'
        # Valid values get past validation and stop at "not connected".
        { Get-Mailbox -ResultSize Unlimited } | Should -Throw -ErrorId 'ExchangeMfa.NotConnected,Get-Mailbox'
        { Get-Mailbox -ResultSize 25 } | Should -Throw -ErrorId 'ExchangeMfa.NotConnected,Get-Mailbox'
    }

    It 'have the catalogue''s parameter sets, mandatory parameters and types' {
        $new = Get-Command New-Mailbox
        $new.ParameterSets.Name | Should -Contain 'Shared'
        $new.DefaultParameterSet | Should -Be 'MicrosoftOnlineServicesID'
        $new.Parameters.Password.ParameterType | Should -Be ([securestring])
        (Get-Command Get-MessageTrace).Parameters.StartDate.ParameterType | Should -Be ([datetime])
        (Get-Command Get-MessageTrace).Parameters.MessageTraceId.ParameterType | Should -Be ([guid])
        (Get-Command Set-Mailbox).Parameters.HiddenFromAddressListsEnabled.ParameterType | Should -Be ([bool])
        (Get-Command Add-MailboxPermission).Parameters.AccessRights.ParameterType | Should -Be ([object[]])
    }

    It 'every proxy supports ShouldProcess with the catalogue''s ConfirmImpact exactly when it changes state' {
        $wrong = foreach ($entry in $script:proxies) {
            $binding = (Get-Command $entry.name).ScriptBlock.Attributes |
                Where-Object { $_ -is [System.Management.Automation.CmdletBindingAttribute] }
            if ($binding.SupportsShouldProcess -ne [bool]$entry.changesState) { $entry.name }
            elseif ($entry.changesState -and [string]$binding.ConfirmImpact -ne $entry.confirmImpact) { $entry.name }
        }
        $wrong | Should -BeNullOrEmpty
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
}

Describe 'Which connection a proxy uses' {
    BeforeAll {
        # Module state set by hand: no helper is asked for anything here.
        function Resolve-TestConnection([string] $Name, [string] $InvocationName, [string[]] $Products) {
            [ExchangeMfa.ExchangeProxy]::ResolveConnectionId($Name, $InvocationName, $Products)
        }
        function Set-TestDefault([string] $Online, [string] $Compliance) {
            [ExchangeMfa.Connections]::DefaultId = $Online; [ExchangeMfa.Connections]::DefaultComplianceId = $Compliance
        }
    }
    AfterAll { Set-TestDefault $null $null; Remove-TestProxy }

    It 'the default connection of a product the command has; Exchange Online first when it has both' {
        Set-TestDefault 'exo-1' 'scc-1'
        Resolve-TestConnection Get-Mailbox Get-Mailbox ExchangeOnline | Should -Be 'exo-1'
        Resolve-TestConnection Get-ComplianceSearch Get-ComplianceSearch SecurityCompliance | Should -Be 'scc-1'
        Resolve-TestConnection Get-QuarantineMessage Get-QuarantineMessage ExchangeOnline, SecurityCompliance | Should -Be 'exo-1'
        Set-TestDefault $null 'scc-1'
        Resolve-TestConnection Get-QuarantineMessage Get-QuarantineMessage ExchangeOnline, SecurityCompliance | Should -Be 'scc-1'
        Resolve-TestConnection Get-Mailbox Get-Mailbox ExchangeOnline | Should -BeNullOrEmpty
    }

    It 'a prefixed alias routes to its prefix''s connection, the others to the default' {
        Set-TestDefault 'exo-1' $null
        Import-TestProxy -Prefix Contoso -Id 'contoso-1'
        Import-TestProxy -Prefix Fabrikam -CommandName Get-Mailbox -Id 'fabrikam-1'
        Resolve-TestConnection Get-Mailbox Get-ContosoMailbox ExchangeOnline | Should -Be 'contoso-1'
        Resolve-TestConnection Get-Mailbox get-fabrikammailbox ExchangeOnline | Should -Be 'fabrikam-1'
        Resolve-TestConnection Get-Mailbox 'ExchangeMfa.Commands.Mailbox\Get-Mailbox' ExchangeOnline | Should -Be 'exo-1'
        Resolve-TestConnection Get-Mailbox Get-Mailbox ExchangeOnline | Should -Be 'exo-1'
        Resolve-TestConnection Get-Mailbox Get-NobodyMailbox ExchangeOnline | Should -Be 'exo-1'
    }
}

Describe 'Prefixes and -CommandName' {
    BeforeAll { Remove-TestProxy }
    AfterAll { Remove-TestProxy }

    It '-Prefix makes aliases Verb-<Prefix>Noun for the named commands only' {
        Import-TestProxy -Prefix Contoso -CommandName get-mailbox, Set-Mailbox
        $module = Get-Module ExchangeMfa.Prefix.Contoso
        $module.ExportedAliases.Keys | Sort-Object | Should -Be @('Get-ContosoMailbox', 'Set-ContosoMailbox')
        (Get-Alias Get-ContosoMailbox).Definition | Should -Be 'Get-Mailbox'
        Get-Command Get-ContosoRecipient -ErrorAction Ignore | Should -BeNullOrEmpty
        (Get-Help Get-ContosoMailbox).Synopsis | Should -Be 'Gets mailbox objects (Exchange Online).'
        { Get-ContosoMailbox -ResultSize Lots } | Should -Throw -ErrorId 'ParameterArgumentValidationError,Get-Mailbox'
    }

    It 'without -CommandName covers every proxy of the connection''s product, quickly' {
        $elapsed = Measure-Command { Import-TestProxy -Prefix Fabrikam }
        $exchange = @($script:catalog.commands | Where-Object { $_.products -contains 'ExchangeOnline' -and $_.client -ne 'module' })
        (Get-Module ExchangeMfa.Prefix.Fabrikam).ExportedAliases.Count | Should -Be $exchange.Count
        Write-Host ("-Prefix aliases for {0} commands: {1:N0} ms" -f $exchange.Count, $elapsed.TotalMilliseconds)
        $elapsed.TotalSeconds | Should -BeLessThan 5
    }

    It 'keeps several prefixes side by side and removes one without the other' {
        Get-Command Get-ContosoMailbox, Get-FabrikamMailbox | Should -HaveCount 2
        $null = [ExchangeMfa.ModuleScope]::Call('Remove-ExchangeProxyModule', @{ ConnectionId = 'no-such-connection' })
        Get-Command Get-FabrikamMailbox | Should -HaveCount 1
        Remove-TestProxy
        Get-Command Get-ContosoMailbox, Get-FabrikamMailbox -ErrorAction Ignore | Should -BeNullOrEmpty
        Get-Module ExchangeMfa.Prefix.* | Should -BeNullOrEmpty
    }

    It 'an unknown -CommandName is ExchangeMfa.UnknownCommandName' {
        { Import-TestProxy -Prefix Contoso -CommandName Get-Mailbox, Get-Mailboxx } |
            Should -Throw -ErrorId 'ExchangeMfa.UnknownCommandName,Import-TestProxy' -ExpectedMessage '*Get-Mailboxx*'
    }
}

Describe 'A name that does not exist' {
    It 'close to the catalogue: the closest names and the generic invoker' {
        { Get-Mailboxx } | Should -Throw -ErrorId 'ExchangeMfa.CommandNotFound' -ExpectedMessage '*Get-Mailbox,*Invoke-ExchangeMfaCommand -Name Get-Mailboxx*'
        { Set-Maibox -Identity x } | Should -Throw -ExpectedMessage '*Set-Mailbox*'
    }

    It 'unrelated to Exchange: PowerShell''s own error' {
        { Get-Frobnicate } | Should -Throw -ErrorId 'CommandNotFoundException'
        { nosuchprogram-xyz } | Should -Throw -ErrorId 'CommandNotFoundException'
    }

    It 'costs little to look up' {
        $elapsed = Measure-Command { [ExchangeMfa.CommandCatalog]::Suggest('Get-MailboxStatistic') }
        Write-Host ("typo suggestion over {0} names: {1:N0} ms" -f $script:catalog.commands.Count, $elapsed.TotalMilliseconds)
        $elapsed.TotalSeconds | Should -BeLessThan 2
    }
}

Describe 'Remove-Module ExchangeMfa' {
    It 'leaves nothing behind: no PSModulePath entry, group module, alias or handler' {
        Remove-Module ExchangeMfa -Force
        $before = $ExecutionContext.InvokeCommand.CommandNotFoundAction
        # A group loaded without the module's runtime goes too.
        Import-Module (Join-Path $script:root 'ExchangeMfa.psd1') -Force
        $null = Get-Help Get-Mailbox
        [ExchangeMfa.ModuleScope]::RuntimeLoaded | Should -BeFalse
        Get-LoadedGroup | Should -Not -BeNullOrEmpty
        Remove-Module ExchangeMfa -Force
        Get-Module 'ExchangeMfa*' | Should -BeNullOrEmpty
        # And with it: the prefix aliases too.
        Import-Module (Join-Path $script:root 'ExchangeMfa.psd1') -Force
        $null = Get-Help Get-Mailbox
        Import-TestProxy -Prefix Contoso -CommandName Get-Mailbox
        Get-LoadedGroup | Should -Not -BeNullOrEmpty
        Remove-Module ExchangeMfa -Force
        Get-Module 'ExchangeMfa*' | Should -BeNullOrEmpty
        $env:PSModulePath -split [System.IO.Path]::PathSeparator | Should -Not -Contain $script:commandsFolder
        Get-Command Get-ContosoMailbox -ErrorAction Ignore | Should -BeNullOrEmpty
        Get-Command Get-Mailbox -ErrorAction Ignore | Should -BeNullOrEmpty
        $ExecutionContext.InvokeCommand.CommandNotFoundAction | Should -Be $before
        # The tests after this one expect the module.
        Import-Module (Join-Path $script:root 'ExchangeMfa.psd1') -Force
    }
}
