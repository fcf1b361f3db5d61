# The module's face: manifest, help for every command, and the parameters
# each command takes (pinned, so a change is a deliberate one).

BeforeDiscovery {
    $manifestPath = Join-Path $PSScriptRoot '../../ExchangeMfa.psd1'
    $script:commandNames = (Import-PowerShellDataFile $manifestPath).CmdletsToExport
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1')
    $script:manifestPath = Join-Path $PSScriptRoot '../../ExchangeMfa.psd1'
    $script:commandNames = (Import-PowerShellDataFile $script:manifestPath).CmdletsToExport
    Import-Module $script:manifestPath -Force
    $script:common = [System.Management.Automation.PSCmdlet]::CommonParameters +
        [System.Management.Automation.PSCmdlet]::OptionalCommonParameters
}

AfterAll {
    Remove-Module ExchangeMfa -ErrorAction Ignore
}

Describe 'Manifest' {
    It 'is a valid manifest with explicit export lists' {
        $manifest = Test-ModuleManifest -Path $script:manifestPath
        $manifest.Version | Should -Be ([version]'0.1.0')
        $data = Import-PowerShellDataFile $script:manifestPath
        $data.CmdletsToExport | Should -Not -Contain '*'
        $data.FunctionsToExport.Count | Should -Be 0
        $data.VariablesToExport.Count | Should -Be 0
        $data.AliasesToExport.Count | Should -Be 0
        [version]$data.PowerShellVersion | Should -BeGreaterOrEqual ([version]'7.4') -Because 'the generated proxies have clean blocks (PowerShell 7.3+)'
        $data.GUID | Should -Match '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
    }

    It 'exports exactly the listed cmdlets, compiled' {
        (Get-Module ExchangeMfa).ExportedFunctions.Count | Should -Be 0
        $exported = (Get-Module ExchangeMfa).ExportedCmdlets.Keys | Sort-Object
        $exported | Should -Be ($script:commandNames | Sort-Object)
    }

    It 'starts no process at import' {
        [ExchangeMfa.Helper]::Current | Should -BeNullOrEmpty
    }

    It 'ships views for the connection, connection information and mailbox types' {
        # Loaded with the first connection (Connection.Tests), not by the manifest.
        $data = Import-PowerShellDataFile $script:manifestPath
        $data.Keys | Should -Not -Contain 'FormatsToProcess'
        $views = ([xml](Get-Content -Raw ([ExchangeMfa.ModuleSetup]::FormatPath))).Configuration.ViewDefinitions.View
        $module = Test-ModuleManifest -Path ([ExchangeMfa.ModuleSetup]::ViewsManifest)
        $module.ExportedFormatFiles | Should -Be @([ExchangeMfa.ModuleSetup]::FormatPath)
        $module.Version | Should -Be ([version]$data.ModuleVersion)
        $types = $views.ViewSelectedBy.TypeName
        $types | Should -Contain 'ExchangeMfa.Connection'
        $types | Should -Contain 'ExchangeMfa.ConnectionInformation'
        $types | Should -Contain 'ExchangeMfa.Mailbox'
    }

    It 'is a binary module; its script functions load on first need, out of sight, not for connections or the catalogue' {
        # A new pwsh, so that no earlier test has needed the runtime.
        $manifest = Join-Path $PSScriptRoot '../../ExchangeMfa.psd1'
        $result = Invoke-ChildPwsh -Command @"
`$module = Import-Module '$manifest' -PassThru
`$atImport = [ExchangeMfa.ModuleScope]::RuntimeLoaded
`$null = Get-ExchangeMfaConnection; `$null = Get-ConnectionInformation; Disconnect-ExchangeMfa -Confirm:`$false
try { Connect-ExchangeMfa -Device -CommandName Get-Mailboxx } catch { }
try { Get-Mailboxx } catch { }
try { Invoke-ExchangeMfaCommand Get-Mailbox } catch { }
`$afterConnections = [ExchangeMfa.ModuleScope]::RuntimeLoaded
`$null = Install-ExchangeMfaCompatibility -Path ([System.IO.Path]::GetTempPath()) -WhatIf
@{ Path = `$module.Path; Type = [string]`$module.ModuleType; AtImport = `$atImport; AfterConnections = `$afterConnections
   AtUse = [ExchangeMfa.ModuleScope]::RuntimeLoaded; Visible = [bool](Get-Command Import-ExchangeProxyModule -ErrorAction Ignore)
   Modules = @(Get-Module | ForEach-Object Name) } | ConvertTo-Json -Compress
"@ | Select-Object -Last 1 | ConvertFrom-Json
        $result.Type | Should -Be 'Binary'
        $result.Path | Should -BeLike '*module?bin?ExchangeMfa.Types.dll'
        # Not at import, nor for listing and closing connections, checking
        # -CommandName, a typo or the generic invoker; with the first command
        # that needs them (the compatibility module), in a scope no command
        # list shows.
        $result.AtImport | Should -BeFalse
        $result.AfterConnections | Should -BeFalse
        $result.AtUse | Should -BeTrue
        $result.Visible | Should -BeFalse
        $result.Modules | Should -Not -Contain 'ExchangeMfa.Runtime'
        $private = @(foreach ($file in Get-ChildItem (Join-Path $PSScriptRoot '../../module/Private') -Filter *.ps1) {
                [System.Management.Automation.Language.Parser]::ParseFile($file.FullName, [ref]$null, [ref]$null).FindAll(
                    { $args[0] -is [System.Management.Automation.Language.FunctionDefinitionAst] -and
                        $null -eq $args[0].Parent.Parent.Parent }, $true).Name
            })
        $private.Count | Should -BeGreaterThan 10
        foreach ($name in $private) {
            [ExchangeMfa.ModuleScope]::Invoke({ param($n) (Get-Command $n -CommandType Function).ScriptBlock.File }, $name) |
                Should -Be ([ExchangeMfa.ModuleSetup]::RuntimePath)
        }
    }

    It 'refuses to import when a source is newer than the bundle, naming ./build.sh' {
        $copy = Join-Path ([System.IO.Path]::GetTempPath()) "exchangemfa-stale-$PID"
        try {
            New-Item -ItemType Directory -Path (Join-Path $copy 'module/Bundle'), (Join-Path $copy 'module/Private'), (Join-Path $copy 'module/bin') -Force | Out-Null
            Copy-Item (Join-Path $PSScriptRoot '../../ExchangeMfa.psd1') $copy
            Copy-Item (Join-Path $PSScriptRoot '../../module/Bundle/*') (Join-Path $copy 'module/Bundle')
            Copy-Item (Join-Path $PSScriptRoot '../../module/bin/ExchangeMfa.Types.dll') (Join-Path $copy 'module/bin')
            $old = [datetime]::UtcNow.AddMinutes(-5)
            foreach ($item in Get-ChildItem $copy -Recurse) { $item.LastWriteTimeUtc = $old }
            # A clone whose sources are older than its bundle imports.
            $result = Invoke-ChildPwsh "Import-Module '$copy/ExchangeMfa.psd1'; 'imported'"
            $result | Should -Be 'imported'
            Set-Content (Join-Path $copy 'module/Private/Changed.ps1') 'function Get-Changed { 2 }'
            $result = Invoke-ChildPwsh "try { Import-Module '$copy/ExchangeMfa.psd1' -ErrorAction Stop; 'imported' } catch { `$_.Exception.Message }"
            "$result" | Should -Match 'has changed since module/Bundle was generated.*Run ./build.sh'
        }
        finally { Remove-Item $copy -Recurse -Force -ErrorAction Ignore }
    }

    It 'has the about_ExchangeMfa topic in module/en-US' {
        $topic = Join-Path $PSScriptRoot '../../module/en-US/about_ExchangeMfa.help.txt'
        Get-Content $topic -Raw | Should -Match 'TOPIC\s+about_ExchangeMfa'
        Get-Content $topic -Raw | Should -Match 'Connect-ExchangeMfa'
    }

    # Get-Help looks for about topics only in <ModuleBase>/<culture>, and the
    # module base is the manifest's folder (the repository root), so it needs
    # en-US there (a link to module/en-US, made by the build).
    It 'Get-Help finds about_ExchangeMfa' -Skip:(-not (Test-Path (Join-Path $PSScriptRoot '../../en-US/about_ExchangeMfa.help.txt'))) {
        (Get-Help about_ExchangeMfa | Out-String) | Should -Match 'Connect-ExchangeMfa'
    }
}

Describe 'Help for <_>' -ForEach $script:commandNames {
    BeforeAll {
        $script:help = Get-Help $_ -Full
        $script:command = Get-Command $_
    }

    It 'has a synopsis' {
        $script:help.Synopsis | Should -Not -BeNullOrEmpty
        $script:help.Synopsis | Should -Not -Match '^\s*\S+ \[' # not the generated syntax
    }

    It 'has a description' {
        ($script:help.Description | Out-String).Trim() | Should -Not -BeNullOrEmpty
    }

    It 'has at least two examples with code and remarks' {
        $examples = @($script:help.Examples.Example)
        $examples.Count | Should -BeGreaterOrEqual 2
        foreach ($example in $examples) {
            $example.Code | Should -Not -BeNullOrEmpty
            ($example.Remarks | Out-String).Trim() | Should -Not -BeNullOrEmpty
        }
    }

    It 'describes every parameter it shows' {
        $names = $script:command.Parameters.Values |
            Where-Object { $_.Name -notin $script:common -and -not ($_.Attributes.Where({ $_ -is [Parameter] }).DontShow -contains $true) } |
            ForEach-Object Name
        foreach ($name in $names) {
            $parameterHelp = $script:help.Parameters.Parameter | Where-Object Name -eq $name
            ($parameterHelp.Description | Out-String).Trim() | Should -Not -BeNullOrEmpty -Because "-$name needs help"
        }
    }

    It 'names its output type and links' {
        $script:command.OutputType.Name | Should -Not -BeNullOrEmpty
        @($script:help.relatedLinks.navigationLink).Count | Should -BeGreaterOrEqual 2
        $script:command.CommandType | Should -Be 'Cmdlet'
    }
}

Describe 'Parameter contract' {
    BeforeAll {
        function Get-OwnParameter([string] $Name) {
            (Get-Command $Name).Parameters.Values | Where-Object { $_.Name -notin $script:common }
        }
    }

    It 'Connect-ExchangeMfa takes the Connect-ExchangeOnline names' {
        (Get-OwnParameter Connect-ExchangeMfa).Name | Sort-Object | Should -Be (@(
                'AccessToken', 'AppId', 'AssertionAlgorithm', 'AzureADAuthorizationEndpointUri', 'BrowserTimeoutSeconds', 'Certificate',
                'CertificateFilePath', 'CertificateKeyFilePath', 'CertificatePassword', 'CertificateThumbprint',
                'CommandName', 'ConnectionUri', 'Credential', 'DelegatedOrganization', 'Device', 'ExchangeEnvironmentName',
                'FederatedToken', 'InlineCredential', 'InMemoryTokenCache', 'ManagedIdentity', 'ManagedIdentityAccountId',
                'NoBrowser', 'Organization', 'PageSize', 'Prefix', 'Product', 'RedirectUri', 'Resource', 'ShowBanner', 'SkipLoadingFormatData',
                'ThrottleLimit', 'UserPrincipalName') | Sort-Object)
        # -Product is Connect-IPPSSession's way in, hidden from tab completion.
        $parameters = (Get-Command Connect-ExchangeMfa).Parameters
        $parameters.Product.Attributes.Where({ $_ -is [Parameter] }).DontShow | Should -BeTrue
        $parameters = (Get-Command Connect-ExchangeMfa).Parameters
        $parameters.Device.SwitchParameter | Should -BeTrue
        $parameters.ShowBanner.SwitchParameter | Should -BeTrue
        $set = $parameters.ExchangeEnvironmentName.Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateSetAttribute] }
        $set.ValidValues | Should -Be @('O365Default', 'O365USGovGCCHigh', 'O365USGovDoD', 'O365China')
        $range = $parameters.PageSize.Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateRangeAttribute] }
        $range.MinRange | Should -Be 1
        $range.MaxRange | Should -Be 1000
        { Connect-ExchangeMfa -Device -PageSize 1001 } | Should -Throw -ErrorId 'ParameterArgumentValidationError,ExchangeMfa.ConnectExchangeMfaCommand'
        $parameters.CommandName.ParameterType | Should -Be ([string[]])
    }

    It 'Connect-ExchangeMfa -Prefix takes letters and digits, EXO is reserved' {
        { Connect-ExchangeMfa -Device -Prefix 'Con-toso' } | Should -Throw -ErrorId 'ParameterArgumentValidationError,ExchangeMfa.ConnectExchangeMfaCommand'
        { Connect-ExchangeMfa -Device -Prefix 'exo' } | Should -Throw -ErrorId 'ParameterArgumentValidationError,ExchangeMfa.ConnectExchangeMfaCommand'
        [ExchangeMfa.Helper]::Current | Should -BeNullOrEmpty
    }

    It 'Connect-ExchangeMfa -CommandName rejects a name outside the catalogue before signing in' {
        { Connect-ExchangeMfa -Device -CommandName Get-Mailbox, Get-Mailboxx } |
            Should -Throw -ErrorId 'ExchangeMfa.UnknownCommandName,ExchangeMfa.ConnectExchangeMfaCommand' -ExpectedMessage '*Get-Mailboxx*'
        [ExchangeMfa.Helper]::Current | Should -BeNullOrEmpty
    }

    It 'Connect-ExchangeMfa has one parameter set per sign-in mode, the browser by default' {
        $command = Get-Command Connect-ExchangeMfa
        $command.DefaultParameterSet | Should -Be 'Interactive'
        $command.ParameterSets.Name | Sort-Object | Should -Be (@('AccessToken', 'Certificate', 'CertificateFile',
                'CertificateThumbprint', 'Credential', 'Device', 'FederatedToken', 'InlineCredential', 'Interactive',
                'ManagedIdentity') | Sort-Object)
        $mandatory = @{}
        foreach ($set in $command.ParameterSets) {
            $mandatory[$set.Name] = @($set.Parameters | Where-Object IsMandatory | ForEach-Object Name | Sort-Object)
        }
        $mandatory.Interactive.Count | Should -Be 0
        $mandatory.Device | Should -Be @('Device')
        $mandatory.Credential | Should -Be @('Credential')
        $mandatory.InlineCredential | Should -Be @('InlineCredential')
        $mandatory.CertificateFile | Should -Be @('AppId', 'CertificateFilePath', 'Organization')
        $mandatory.Certificate | Should -Be @('AppId', 'Certificate', 'Organization')
        $mandatory.CertificateThumbprint | Should -Be @('AppId', 'CertificateThumbprint', 'Organization')
        $mandatory.ManagedIdentity | Should -Be @('ManagedIdentity', 'Organization')
        $mandatory.FederatedToken | Should -Be @('FederatedToken')
        $mandatory.AccessToken | Should -Be @('AccessToken')
    }

    It 'Connect-ExchangeMfa takes secrets as secure types, never plain strings' {
        $parameters = (Get-Command Connect-ExchangeMfa).Parameters
        $parameters.Credential.ParameterType | Should -Be ([pscredential])
        $parameters.CertificatePassword.ParameterType | Should -Be ([securestring])
        $parameters.Certificate.ParameterType | Should -Be ([System.Security.Cryptography.X509Certificates.X509Certificate2])
        # Like Connect-ExchangeOnline: the caller already holds the token as a string.
        $parameters.AccessToken.ParameterType | Should -Be ([string])
        foreach ($switch in 'NoBrowser', 'InlineCredential', 'ManagedIdentity', 'FederatedToken', 'InMemoryTokenCache') {
            $parameters[$switch].SwitchParameter | Should -BeTrue -Because "-$switch is a switch"
        }
        $set = $parameters.AssertionAlgorithm.Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateSetAttribute] }
        $set.ValidValues | Should -Be @('PS256', 'RS256')
    }

    It 'Connect-ExchangeMfa refuses to mix sign-in modes before starting anything' {
        { Connect-ExchangeMfa -Device -NoBrowser } | Should -Throw -ErrorId 'AmbiguousParameterSet,ExchangeMfa.ConnectExchangeMfaCommand'
        { Connect-ExchangeMfa -ManagedIdentity -AccessToken x -Organization contoso.onmicrosoft.com } |
            Should -Throw -ErrorId 'AmbiguousParameterSet,ExchangeMfa.ConnectExchangeMfaCommand'
        { Connect-ExchangeMfa -AppId x -Organization y -CertificateFilePath a -CertificateThumbprint b } |
            Should -Throw -ErrorId 'AmbiguousParameterSet,ExchangeMfa.ConnectExchangeMfaCommand'
        [ExchangeMfa.Helper]::Current | Should -BeNullOrEmpty
    }

    It 'Microsoft''s names take Microsoft''s parameters (DropIn.Tests.ps1 checks each one)' {
        # Microsoft's 37 and ExchangeMfa's -ThrottleLimit.
        @(Get-OwnParameter Connect-ExchangeOnline).Count | Should -Be 38
        (Get-OwnParameter Get-ConnectionInformation).Name | Sort-Object | Should -Be @('ConnectionId', 'ModulePrefix')
        (Get-OwnParameter Disconnect-ExchangeOnline).Name | Sort-Object | Should -Be @('ConnectionId', 'ModulePrefix')
        foreach ($name in 'Install-ExchangeMfaCompatibility', 'Uninstall-ExchangeMfaCompatibility') {
            (Get-OwnParameter $name).Name | Sort-Object | Should -Be @('Path', 'Scope')
            $binding = (Get-Command $name).ImplementingType.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false)
            $binding.SupportsShouldProcess | Should -BeTrue
        }
    }

    It 'Get-ExchangeMfaConnection takes -ConnectionId' {
        (Get-OwnParameter Get-ExchangeMfaConnection).Name | Should -Be @('ConnectionId')
    }

    It 'Disconnect-ExchangeMfa takes -ConnectionId from the pipeline and confirms like Microsoft' {
        (Get-OwnParameter Disconnect-ExchangeMfa).Name | Should -Be @('ConnectionId', 'ForgetCache')
        $command = Get-Command Disconnect-ExchangeMfa
        $command.Parameters.ForgetCache.SwitchParameter | Should -BeTrue
        $command.Parameters.ConnectionId.ParameterType | Should -Be ([string[]])
        $command.Parameters.ConnectionId.Attributes.Where({ $_ -is [Parameter] }).ValueFromPipelineByPropertyName | Should -BeTrue
        $binding = $command.ImplementingType.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false)
        $binding.SupportsShouldProcess | Should -BeTrue
        $binding.ConfirmImpact | Should -Be 'High'
    }

    It 'Invoke-ExchangeMfaCommand takes Name, Parameters, ResultSize, ConnectionId, PageSize' {
        (Get-OwnParameter Invoke-ExchangeMfaCommand).Name | Sort-Object |
            Should -Be (@('ConnectionId', 'Name', 'PageSize', 'Parameters', 'ResultSize') | Sort-Object)
        $parameters = (Get-Command Invoke-ExchangeMfaCommand).Parameters
        $parameters.Name.Attributes.Where({ $_ -is [Parameter] }).Mandatory | Should -BeTrue
        $parameters.Parameters.ParameterType | Should -Be ([System.Collections.IDictionary])
    }
}
