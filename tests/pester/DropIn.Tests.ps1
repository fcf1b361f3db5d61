# Microsoft's names: scripts written for ExchangeOnlineManagement run
# unchanged. Connect-ExchangeOnline takes every one of Microsoft's 37
# parameters (and ExchangeMfa's -ThrottleLimit), Get-ConnectionInformation has Microsoft's fields,
# Disconnect-ExchangeOnline its forms, Connect-IPPSSession reaches the
# Security & Compliance endpoint beside an Exchange connection, and the
# opt-in compatibility module answers to the name ExchangeOnlineManagement.

BeforeDiscovery {
    # Microsoft's Connect-ExchangeOnline (reference: Connect-ExchangeOnline.md
    # of MicrosoftDocs/office-docs-powershell, PARAMETERS): name, the type
    # PowerShell binds (ExchangeEnvironment and LogLevel are enums there,
    # validated strings here), position, and whether Connect-ExchangeMfa
    # takes it (Forwarded) or it is accepted and ignored.
    $script:connectParameters = @(
        @{ Name = 'ConnectionUri'; Type = 'string'; Position = 0; Forwarded = $true }
        @{ Name = 'AzureADAuthorizationEndpointUri'; Type = 'string'; Position = 1; Forwarded = $true }
        @{ Name = 'ExchangeEnvironmentName'; Type = 'string'; Position = 2; Forwarded = $true }
        @{ Name = 'PSSessionOption'; Type = 'System.Management.Automation.Remoting.PSSessionOption'; Position = 3; Forwarded = $false }
        @{ Name = 'DelegatedOrganization'; Type = 'string'; Position = 4; Forwarded = $true }
        @{ Name = 'Prefix'; Type = 'string'; Position = 5; Forwarded = $true }
        @{ Name = 'CommandName'; Type = 'string[]'; Position = 6; Forwarded = $true }
        @{ Name = 'FormatTypeName'; Type = 'string[]'; Position = 7; Forwarded = $false }
        @{ Name = 'AccessToken'; Type = 'string'; Forwarded = $true }
        @{ Name = 'AppId'; Type = 'string'; Forwarded = $true }
        @{ Name = 'BypassMailboxAnchoring'; Type = 'switch'; Forwarded = $false }
        @{ Name = 'Certificate'; Type = 'System.Security.Cryptography.X509Certificates.X509Certificate2'; Forwarded = $true }
        @{ Name = 'CertificateFilePath'; Type = 'string'; Forwarded = $true }
        @{ Name = 'CertificatePassword'; Type = 'securestring'; Forwarded = $true }
        @{ Name = 'CertificateThumbprint'; Type = 'string'; Forwarded = $true }
        @{ Name = 'Credential'; Type = 'pscredential'; Forwarded = $true }
        @{ Name = 'Device'; Type = 'switch'; Forwarded = $true }
        @{ Name = 'DisableWAM'; Type = 'switch'; Forwarded = $false }
        @{ Name = 'EnableErrorReporting'; Type = 'switch'; Forwarded = $false }
        @{ Name = 'EXOModuleBasePath'; Type = 'string'; Forwarded = $false }
        @{ Name = 'InlineCredential'; Type = 'switch'; Forwarded = $true }
        @{ Name = 'LoadCmdletHelp'; Type = 'switch'; Forwarded = $false }
        @{ Name = 'LogDirectoryPath'; Type = 'string'; Forwarded = $false }
        @{ Name = 'LogLevel'; Type = 'string'; Forwarded = $false }
        @{ Name = 'ManagedIdentity'; Type = 'switch'; Forwarded = $true }
        @{ Name = 'ManagedIdentityAccountId'; Type = 'string'; Forwarded = $true }
        @{ Name = 'Organization'; Type = 'string'; Forwarded = $true }
        @{ Name = 'PageSize'; Type = 'uint32'; Forwarded = $true }
        @{ Name = 'ShowBanner'; Type = 'switch'; Forwarded = $true }
        @{ Name = 'ShowProgress'; Type = 'bool'; Forwarded = $false }
        @{ Name = 'SigningCertificate'; Type = 'System.Security.Cryptography.X509Certificates.X509Certificate2'; Forwarded = $false }
        @{ Name = 'SkipLoadingCmdletHelp'; Type = 'switch'; Forwarded = $false }
        @{ Name = 'SkipLoadingFormatData'; Type = 'switch'; Forwarded = $true }
        @{ Name = 'TrackPerformance'; Type = 'bool'; Forwarded = $false }
        @{ Name = 'UseMultithreading'; Type = 'bool'; Forwarded = $false }
        @{ Name = 'UserPrincipalName'; Type = 'string'; Forwarded = $true }
        @{ Name = 'UseRPSSession'; Type = 'switch'; Forwarded = $false }
        # ExchangeMfa's own: requests in flight for pipeline input (docs/exchange.md).
        @{ Name = 'ThrottleLimit'; Type = 'int'; Forwarded = $true }
    )
    # Microsoft's Connect-IPPSSession (Connect-IPPSSession.md), plus -Device and -ThrottleLimit.
    $script:ippsParameters = @('ConnectionUri', 'AzureADAuthorizationEndpointUri', 'DelegatedOrganization',
        'PSSessionOption', 'Prefix', 'CommandName', 'FormatTypeName', 'AccessToken', 'AppId', 'BypassMailboxAnchoring',
        'Certificate', 'CertificateFilePath', 'CertificatePassword', 'CertificateThumbprint', 'Credential', 'DisableWAM',
        'EnableErrorReporting', 'EnableSearchOnlySession', 'EXOModuleBasePath', 'LogDirectoryPath', 'LogLevel',
        'Organization', 'ShowBanner', 'UserPrincipalName', 'UseRPSSession', 'Device', 'ThrottleLimit')
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    $script:emulator = Start-TestSession -Mailboxes 30
    $script:common = [System.Management.Automation.PSCmdlet]::CommonParameters +
        [System.Management.Automation.PSCmdlet]::OptionalCommonParameters
    $script:jwt = 'eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}'

    # A throwaway certificate with its key, for the certificate parameters.
    $rsa = [System.Security.Cryptography.RSA]::Create(2048)
    $request = [System.Security.Cryptography.X509Certificates.CertificateRequest]::new('CN=dropin-test', $rsa,
        [System.Security.Cryptography.HashAlgorithmName]::SHA256, [System.Security.Cryptography.RSASignaturePadding]::Pkcs1)
    $script:certificate = $request.CreateSelfSigned([datetimeoffset]::UtcNow.AddMinutes(-5), [datetimeoffset]::UtcNow.AddDays(1))

    # A sample value for each parameter, and what it needs beside it to be
    # a complete sign-in (Microsoft's module checks the same combinations).
    $app = @{ AppId = '3c0b1a5e-7d2f-4e8a-9b6c-1f2e3d4c5b6a'; Organization = 'contoso.onmicrosoft.com' }
    $password = ConvertTo-SecureString 'not-a-real-password' -AsPlainText -Force
    $script:samples = @{
        ConnectionUri                   = @{ Value = 'https://outlook.office365.com/powershell-liveid/' }
        AzureADAuthorizationEndpointUri = @{ Value = 'https://login.microsoftonline.com/organizations' }
        ExchangeEnvironmentName         = @{ Value = 'O365USGovGCCHigh' }
        PSSessionOption                 = @{ Value = [System.Management.Automation.Remoting.PSSessionOption]::new() }
        DelegatedOrganization           = @{ Value = 'fabrikam.onmicrosoft.com' }
        Prefix                          = @{ Value = 'Contoso' }
        CommandName                     = @{ Value = @('Get-Mailbox', 'Set-Mailbox') }
        FormatTypeName                  = @{ Value = @('*') }
        AccessToken                     = @{ Value = 'eyJhbGciOiJub25lIn0.e30.x'; With = @{ UserPrincipalName = 'admin@contoso.onmicrosoft.com' } }
        AppId                           = @{ Value = $app.AppId; With = @{ CertificateThumbprint = 'AB12'; Organization = $app.Organization } }
        BypassMailboxAnchoring          = @{ Value = $true }
        Certificate                     = @{ Value = $script:certificate; With = $app }
        CertificateFilePath             = @{ Value = './app.pfx'; With = $app }
        CertificatePassword             = @{ Value = $password; With = $app + @{ CertificateFilePath = './app.pfx' } }
        CertificateThumbprint           = @{ Value = 'AB12CD34'; With = $app }
        Credential                      = @{ Value = [pscredential]::new('user@contoso.onmicrosoft.com', $password) }
        Device                          = @{ Value = $true }
        DisableWAM                      = @{ Value = $true }
        EnableErrorReporting            = @{ Value = $true }
        EXOModuleBasePath               = @{ Value = '/tmp/exo' }
        InlineCredential                = @{ Value = $true }
        LoadCmdletHelp                  = @{ Value = $true }
        LogDirectoryPath                = @{ Value = '/tmp/logs' }
        LogLevel                        = @{ Value = 'All' }
        ManagedIdentity                 = @{ Value = $true; With = @{ Organization = $app.Organization } }
        ManagedIdentityAccountId        = @{ Value = 'f0e1d2c3-0000-4000-8000-000000000001'; With = @{ ManagedIdentity = $true; Organization = $app.Organization } }
        Organization                    = @{ Value = $app.Organization }
        PageSize                        = @{ Value = [uint32]500 }
        ShowBanner                      = @{ Value = $false }
        ShowProgress                    = @{ Value = $true }
        SigningCertificate              = @{ Value = $script:certificate }
        SkipLoadingCmdletHelp           = @{ Value = $true }
        SkipLoadingFormatData           = @{ Value = $true }
        TrackPerformance                = @{ Value = $false }
        UseMultithreading               = @{ Value = $true }
        UserPrincipalName               = @{ Value = 'admin@contoso.onmicrosoft.com' }
        UseRPSSession                   = @{ Value = $false }
        ThrottleLimit                   = @{ Value = 4 }
    }

    function Get-EmulatorConnect {
        # The two parameters that point a Microsoft-style Connect at the emulator.
        param([switch] $Compliance)
        $uri = if ($Compliance) { $script:emulator.Url.Replace('127.0.0.1', 'localhost') } else { $script:emulator.Url }
        @{ ConnectionUri = "$uri/powershell-liveid/"; AzureADAuthorizationEndpointUri = $script:emulator.Authority }
    }
}

AfterAll {
    Stop-TestSession
    Remove-Module TestSupport -ErrorAction Ignore
}

Describe 'Connect-ExchangeOnline parameters' {
    It 'takes exactly Microsoft''s 37 parameters and -ThrottleLimit' -TestCases @(@{ Reference = $script:connectParameters }) {
        $own = (Get-Command Connect-ExchangeOnline).Parameters.Keys | Where-Object { $_ -notin $script:common }
        $own.Count | Should -Be 38
        $own | Sort-Object | Should -Be ($Reference.Name | Sort-Object)
        (Get-Command Connect-ExchangeOnline).ParameterSets.Count | Should -Be 1
    }

    It '-<Name>: type <Type>, position as Microsoft''s, binds and <Forwarded> reaches Connect-ExchangeMfa' -ForEach $script:connectParameters {
        $parameter = (Get-Command Connect-ExchangeOnline).Parameters[$Name]
        $parameter.ParameterType | Should -Be ([type]$Type)
        $position = $parameter.Attributes.Where({ $_ -is [Parameter] })[0].Position
        if ($null -ne $_.Position) { $position | Should -Be $_.Position } else { $position | Should -BeLessThan 0 }

        # Dry binding: Connect-ExchangeMfa (its parameter sets included) is
        # mocked, so nothing signs in; what it receives is checked.
        Mock Connect-ExchangeMfa { [pscustomobject]@{ Bound = $PSBoundParameters } }
        $sample = $script:samples[$Name]
        $call = @{ $Name = $sample.Value }
        if ($sample.With) { $call += $sample.With }
        $output = Connect-ExchangeOnline @call -WarningAction SilentlyContinue
        $output | Should -BeNullOrEmpty -Because 'Connect-ExchangeOnline returns nothing'
        # The filter runs in the module's scope: the test's values go in as text.
        $filter = [scriptblock]::Create("`$PesterBoundParameters.ContainsKey('$Name') -eq `$$Forwarded -and -not `$PesterBoundParameters.ContainsKey('Product')")
        Should -Invoke Connect-ExchangeMfa -Times 1 -Exactly -ParameterFilter $filter
    }

    It 'ignores empty values like Microsoft''s module, and says so for meaningless parameters' {
        Mock Connect-ExchangeMfa { }
        Connect-ExchangeOnline -Device -Organization '' -LogDirectoryPath /tmp/x -Verbose 4>&1 |
            Out-String | Should -Match 'LogDirectoryPath has no meaning for ExchangeMfa'
        Should -Invoke Connect-ExchangeMfa -Times 1 -Exactly -ParameterFilter {
            -not $PesterBoundParameters.ContainsKey("Organization") -and $Device
        }
    }

    It '-UseRPSSession warns that Remote PowerShell is retired and connects over REST' {
        Mock Connect-ExchangeMfa { }
        Connect-ExchangeOnline -Device -UseRPSSession -WarningVariable warnings -WarningAction SilentlyContinue
        "$warnings" | Should -Match 'Remote PowerShell \(RPS\) is retired'
        Should -Invoke Connect-ExchangeMfa -Times 1 -Exactly
        Connect-ExchangeOnline -Device -UseRPSSession:$false -WarningVariable quiet
        $quiet | Should -BeNullOrEmpty
    }

    It 'Connect-IPPSSession takes Microsoft''s parameters (and -Device), and asks for the S&C product' -TestCases @(@{ Reference = $script:ippsParameters }) {
        $own = (Get-Command Connect-IPPSSession).Parameters.Keys | Where-Object { $_ -notin $script:common }
        $own | Sort-Object | Should -Be ($Reference | Sort-Object)
        Mock Connect-ExchangeMfa { }
        Connect-IPPSSession -Device -EnableSearchOnlySession -PSSessionOption ([System.Management.Automation.Remoting.PSSessionOption]::new()) | Should -BeNullOrEmpty
        Should -Invoke Connect-ExchangeMfa -Times 1 -Exactly -ParameterFilter {
            $Product -eq 'SecurityCompliance' -and $Device -and -not $PesterBoundParameters.ContainsKey("EnableSearchOnlySession")
        }
    }
}

Describe 'Connect-ExchangeOnline against the emulator' {
    BeforeAll {
        Reset-Emulator
        $connect = Get-EmulatorConnect
        $script:output = Connect-ExchangeOnline @connect -UserPrincipalName admin@contoso.onmicrosoft.com -Device `
            -InformationVariable info -UseMultithreading $true -ShowProgress $true
        $script:hostText = ($info | ForEach-Object { "$($_.MessageData)" }) -join "`n"
        $script:information = @(Get-ConnectionInformation)
    }

    AfterAll {
        Disconnect-ExchangeOnline -Confirm:$false
    }

    It 'returns nothing, shows the banner by default, and connects' {
        $script:output | Should -BeNullOrEmpty
        $script:hostText | Should -Match 'ExchangeMfa'
        $script:hostText | Should -Match 'ShowBanner'
        $script:information.Count | Should -Be 1
    }

    It 'makes the Exchange commands work unchanged' {
        @(Get-Mailbox -ResultSize 3).Count | Should -Be 3
    }

    It 'Get-ConnectionInformation has every field of Microsoft''s' {
        $info = $script:information[0]
        $info.PSObject.TypeNames[0] | Should -Be 'ExchangeMfa.ConnectionInformation'
        $info.PSObject.Properties.Name | Should -Be @('ConnectionId', 'State', 'Id', 'Name', 'UserPrincipalName',
            'ConnectionUri', 'AzureAdAuthorizationEndpointUri', 'TokenExpiryTimeUTC', 'CertificateAuthentication',
            'ModuleName', 'ModulePrefix', 'Organization', 'DelegatedOrganization', 'AppId', 'PageSize', 'TenantID',
            'TokenStatus', 'ConnectionUsedForInbuiltCmdlets', 'IsEopSession')
        $info.ConnectionId | Should -Match '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
        $info.State | Should -Be 'Connected'
        $info.Id | Should -BeGreaterThan 0
        $info.Name | Should -Be "ExchangeOnline_$($info.Id)"
        $info.UserPrincipalName | Should -Be 'admin@contoso.onmicrosoft.com'
        $info.ConnectionUri | Should -Be $script:emulator.Url
        $info.AzureAdAuthorizationEndpointUri | Should -Match ([regex]::Escape($script:emulator.Url))
        $info.TokenExpiryTimeUTC | Should -BeOfType [datetimeoffset]
        $info.TokenExpiryTimeUTC.Offset | Should -Be ([timespan]::Zero)
        $info.TokenExpiryTimeUTC | Should -BeGreaterThan ([datetimeoffset]::UtcNow)
        $info.CertificateAuthentication | Should -BeFalse
        $info.ModuleName | Should -Be 'ExchangeMfa.Commands'
        $info.ModulePrefix | Should -Be ''
        $info.PageSize | Should -Be 1000
        $info.TenantID | Should -Be $script:emulator.TenantId
        $info.TokenStatus | Should -Be 'Active'
        $info.ConnectionUsedForInbuiltCmdlets | Should -BeTrue
        $info.IsEopSession | Should -BeFalse
    }

    It 'shows a list by default and a table on request, with no token anywhere' {
        $list = $script:information | Out-String -Width 200
        $list | Should -Match 'TokenStatus\s+: Active'
        $list | Should -Match 'IsEopSession\s+: False'
        $table = $script:information | Format-Table | Out-String -Width 120
        $table | Should -Match 'Id\s+Name\s+State\s+TokenStatus\s+UserPrincipalName'
        $table | Should -Match 'ExchangeOnline_\d+\s+Connected\s+Active\s+admin@contoso'
        ($list + $table + ($script:information | ConvertTo-Json)) | Should -Not -Match $script:jwt
    }

    It 'Get-ConnectionInformation -ConnectionId and -ModulePrefix select' {
        $id = $script:information[0].ConnectionId
        (Get-ConnectionInformation -ConnectionId $id).ConnectionId | Should -Be $id
        Get-ConnectionInformation -ConnectionId ([guid]::NewGuid()) | Should -BeNullOrEmpty
        Get-ConnectionInformation -ModulePrefix Nope | Should -BeNullOrEmpty
    }
}

Describe 'Connect-ExchangeOnline -AccessToken with -UserPrincipalName' {
    It 'connects with both, as Microsoft''s module allows, and -ShowBanner:$false shows nothing' {
        Reset-Emulator
        $token = Get-TestAppAccessToken
        $connect = Get-EmulatorConnect
        $output = Connect-ExchangeOnline @connect -AccessToken $token -UserPrincipalName admin@contoso.onmicrosoft.com `
            -Organization contoso.onmicrosoft.com -ShowBanner:$false -InformationVariable info
        $output | Should -BeNullOrEmpty
        $info | Should -BeNullOrEmpty
        $connection = Get-ExchangeMfaConnection
        $connection.SignInMode | Should -Be 'AccessToken'
        # The token is an application's: the helper does not take a user's
        # UPN as its anchor (a delegated token's user would be shown).
        $connection.UserPrincipalName | Should -BeNullOrEmpty
        @(Get-Mailbox -ResultSize 1).Count | Should -Be 1
        Disconnect-ExchangeOnline -Confirm:$false
        Get-ConnectionInformation | Should -BeNullOrEmpty
    }
}

Describe 'Disconnect-ExchangeOnline' {
    BeforeEach {
        Reset-Emulator
        $connect = Get-EmulatorConnect
        Connect-ExchangeOnline @connect -UserPrincipalName admin@contoso.onmicrosoft.com -Device -ShowBanner:$false
        Connect-ExchangeOnline @connect -UserPrincipalName admin@contoso.onmicrosoft.com -Device -ShowBanner:$false -Prefix Contoso -CommandName Get-Mailbox
        $script:all = @(Get-ConnectionInformation)
    }

    AfterEach {
        Disconnect-ExchangeOnline -Confirm:$false
    }

    It 'takes Microsoft''s parameter sets and asks by default (ConfirmImpact High)' {
        $command = Get-Command Disconnect-ExchangeOnline
        $command.ParameterSets.Name | Sort-Object | Should -Be @('ConnectionId', 'DefaultParameterSet', 'ModulePrefix')
        $command.Parameters.ConnectionId.ParameterType | Should -Be ([string[]])
        $command.Parameters.ConnectionId.Attributes.Where({ $_ -is [Parameter] }).ValueFromPipelineByPropertyName | Should -BeTrue
        $command.Parameters.ModulePrefix.ParameterType | Should -Be ([string[]])
        $binding = $command.ImplementingType.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false)
        $binding.ConfirmImpact | Should -Be 'High'
    }

    It '-WhatIf closes nothing' {
        Disconnect-ExchangeOnline -WhatIf
        Disconnect-ExchangeOnline -ModulePrefix Contoso -WhatIf
        @(Get-ConnectionInformation).Count | Should -Be 2
    }

    It '-ModulePrefix closes that prefix''s connection only; an unknown prefix is an error' {
        $script:all[1].ModulePrefix | Should -Be 'Contoso'
        Disconnect-ExchangeOnline -ModulePrefix Contoso -Confirm:$false
        (Get-ConnectionInformation).ConnectionId | Should -Be $script:all[0].ConnectionId
        Get-Command Get-ContosoMailbox -ErrorAction Ignore | Should -BeNullOrEmpty
        Disconnect-ExchangeOnline -ModulePrefix Nope -Confirm:$false -ErrorVariable failed -ErrorAction SilentlyContinue
        $failed[0].FullyQualifiedErrorId | Should -Match '^ExchangeMfa\.ConnectionNotFound'
    }

    It '-ConnectionId from the pipeline closes those; no parameter closes all' {
        $script:all[0] | Disconnect-ExchangeOnline -Confirm:$false
        (Get-ConnectionInformation).ConnectionId | Should -Be $script:all[1].ConnectionId
        Disconnect-ExchangeOnline -Confirm:$false
        Get-ConnectionInformation | Should -BeNullOrEmpty
    }
}

Describe 'Connect-IPPSSession beside Connect-ExchangeOnline' {
    BeforeAll {
        Reset-Emulator
        $connect = Get-EmulatorConnect
        Connect-ExchangeOnline @connect -UserPrincipalName admin@contoso.onmicrosoft.com -Device -ShowBanner:$false
        $compliance = Get-EmulatorConnect -Compliance
        $script:output = Connect-IPPSSession @compliance -UserPrincipalName admin@contoso.onmicrosoft.com -Device -ShowBanner:$false
        $script:exchange, $script:scc = Get-ConnectionInformation
        $script:sccId = $script:scc.ConnectionId
    }

    AfterAll {
        Disconnect-ExchangeOnline -Confirm:$false
    }

    It 'returns nothing and opens a second connection, to the S&C endpoint' {
        $script:output | Should -BeNullOrEmpty
        $script:scc.IsEopSession | Should -BeTrue
        $script:scc.Name | Should -Be "ExchangeOnlineProtection_$($script:scc.Id)"
        $script:scc.Id | Should -Be ($script:exchange.Id + 1)
        $script:scc.ConnectionUri | Should -Be $script:emulator.Url.Replace('127.0.0.1', 'localhost')
        $script:scc.ConnectionUsedForInbuiltCmdlets | Should -BeTrue
        $script:exchange.IsEopSession | Should -BeFalse
        $script:exchange.ConnectionUsedForInbuiltCmdlets | Should -BeTrue
        (Get-ExchangeMfaConnection -ConnectionId $script:sccId).Product | Should -Be 'SecurityCompliance'
    }

    It 'keeps both defaults: Exchange commands still go to Exchange' {
        [ExchangeMfa.Connections]::DefaultComplianceId | Should -Be $script:sccId
        [ExchangeMfa.Connections]::DefaultId | Should -Be $script:exchange.ConnectionId
        @(Get-Mailbox -ResultSize 2).Count | Should -Be 2
    }

    It 'runs S&C cmdlets on the S&C connection' {
        Invoke-ExchangeMfaCommand -Name New-ComplianceSearch -ConnectionId $script:sccId `
            -Parameters @{ Name = 'DropIn'; ContentMatchQuery = 'subject:test'; ExchangeLocation = @('All') } | Out-Null
        Invoke-ExchangeMfaCommand -Name Start-ComplianceSearch -ConnectionId $script:sccId -Parameters @{ Identity = 'DropIn' }
        $search = Invoke-ExchangeMfaCommand -Name Get-ComplianceSearch -ConnectionId $script:sccId -Parameters @{ Identity = 'DropIn' }
        $search.Status | Should -Be 'Completed'
        (Invoke-ExchangeMfaCommand -Name Get-Label -ConnectionId $script:sccId).Name | Should -Be @('Public', 'Confidential')
        (Get-EmulatorStats).cmdletRequests.'Get-ComplianceSearch' | Should -Be 1
    }

    It 'each endpoint knows only its own cmdlets' {
        { Invoke-ExchangeMfaCommand -Name Get-ComplianceSearch -ConnectionId $script:exchange.ConnectionId -ErrorAction Stop } |
            Should -Throw
        { Invoke-ExchangeMfaCommand -Name Get-Mailbox -ConnectionId $script:sccId -ErrorAction Stop } | Should -Throw
    }

    It 'closing the S&C connection clears its default only' {
        Disconnect-ExchangeOnline -ConnectionId $script:sccId -Confirm:$false
        [ExchangeMfa.Connections]::DefaultComplianceId | Should -BeNullOrEmpty
        [ExchangeMfa.Connections]::DefaultId | Should -Be $script:exchange.ConnectionId
    }
}

Describe 'The ExchangeOnlineManagement compatibility module' {
    BeforeAll {
        $script:root = Join-Path $script:emulator.Dir 'modules'
        $script:realRoot = Join-Path $script:emulator.Dir 'real-modules'
        $script:modulePath = "$script:root$([IO.Path]::PathSeparator)$env:PSModulePath"
        function Invoke-WithModulePath([string] $ModulePath, [string] $Command) {
            # A child pwsh: #Requires and Import-Module see a fresh module path.
            $saved = $env:PSModulePath
            try {
                $env:PSModulePath = $ModulePath
                Invoke-ChildPwsh -Command $Command 2>&1 | ForEach-Object { "$_" }
            }
            finally { $env:PSModulePath = $saved }
        }
    }

    AfterAll {
        Uninstall-ExchangeMfaCompatibility -Path $script:root -Confirm:$false
    }

    It 'installs into -Path: a manifest marked as ExchangeMfa''s and a root module' {
        $manifest = Install-ExchangeMfaCompatibility -Path $script:root
        $manifest | Should -BeOfType [System.IO.FileInfo]
        $manifest.FullName | Should -Be (Join-Path $script:root 'ExchangeOnlineManagement/3.9.2/ExchangeOnlineManagement.psd1')
        $data = Import-PowerShellDataFile $manifest.FullName
        $data.PrivateData.ExchangeMfaCompatibility | Should -Not -BeNullOrEmpty
        $data.Description | Should -Match 'not Microsoft'
        (Get-ChildItem (Split-Path $manifest.FullName)).Name | Sort-Object |
            Should -Be @('ExchangeOnlineManagement.psd1', 'ExchangeOnlineManagement.psm1')
    }

    It 'answers Get-Module -ListAvailable, Import-Module and #Requires with ExchangeMfa''s commands' {
        $out = Invoke-WithModulePath $script:modulePath @'
#Requires -Modules ExchangeOnlineManagement
(Get-Module ExchangeOnlineManagement -ListAvailable).Version.ToString()
Import-Module ExchangeOnlineManagement
(Get-Command Connect-ExchangeOnline).Source
(Get-Command Get-ConnectionInformation).Source
'@
        $out | Should -Contain '3.9.2'
        ($out | Where-Object { $_ -eq 'ExchangeMfa' }).Count | Should -Be 2
    }

    It 'refuses to install next to a real ExchangeOnlineManagement, writing nothing' {
        $real = Join-Path $script:realRoot 'ExchangeOnlineManagement/3.5.0'
        New-Item -ItemType Directory -Path $real -Force | Out-Null
        Set-Content (Join-Path $real 'ExchangeOnlineManagement.psd1') "@{ RootModule = 'ExchangeOnlineManagement.psm1'; ModuleVersion = '3.5.0'; FunctionsToExport = @('Connect-ExchangeOnline') }"
        Set-Content (Join-Path $real 'ExchangeOnlineManagement.psm1') "function Connect-ExchangeOnline { 'the real one' }"
        { Install-ExchangeMfaCompatibility -Path $script:realRoot } | Should -Throw -ErrorId 'ExchangeMfa.RealModulePresent,ExchangeMfa.InstallExchangeMfaCompatibilityCommand'
        (Get-ChildItem (Join-Path $script:realRoot 'ExchangeOnlineManagement')).Name | Should -Be @('3.5.0')
    }

    It 'never hides a real copy installed later: the real one is imported, with a warning' {
        $path = "$script:root$([IO.Path]::PathSeparator)$script:realRoot$([IO.Path]::PathSeparator)$env:PSModulePath"
        # The warning comes from the module's import, so it goes to the host:
        # a transcript of the child catches it.
        $transcript = Join-Path $script:emulator.Dir 'import.txt'
        $out = Invoke-WithModulePath $path @"
Start-Transcript -LiteralPath '$transcript' | Out-Null
Import-Module ExchangeOnlineManagement -RequiredVersion 3.9.2
Stop-Transcript | Out-Null
Connect-ExchangeOnline
(Get-Command Connect-ExchangeOnline).Version.ToString()
"@
        $text = (Get-Content -Raw $transcript) -replace '\s'
        $text | Should -Match ([regex]::Escape("WARNING:Microsoft'sExchangeOnlineManagementisinstalled"))
        $out | Should -Contain '3.5.0'
        $out | Should -Contain 'the real one'
    }

    It 'uninstalls only what it wrote' {
        $manifestFolder = Join-Path $script:root 'ExchangeOnlineManagement/3.9.2'
        Set-Content (Join-Path $script:root 'keep.txt') 'not ours'
        Uninstall-ExchangeMfaCompatibility -Path $script:root -WhatIf
        Test-Path $manifestFolder | Should -BeTrue
        Uninstall-ExchangeMfaCompatibility -Path $script:root -Confirm:$false
        Test-Path (Join-Path $script:root 'ExchangeOnlineManagement') | Should -BeFalse
        Test-Path (Join-Path $script:root 'keep.txt') | Should -BeTrue
        # The real module elsewhere is untouched, and uninstalling twice is fine.
        Uninstall-ExchangeMfaCompatibility -Path $script:realRoot -Confirm:$false
        Test-Path (Join-Path $script:realRoot 'ExchangeOnlineManagement/3.5.0/ExchangeOnlineManagement.psm1') | Should -BeTrue
    }

    It 'uninstalls from a new session, where nothing else has run yet' {
        $fresh = Join-Path $script:emulator.Dir 'modules-fresh'
        $null = Install-ExchangeMfaCompatibility -Path $fresh
        $manifest = Join-Path $PSScriptRoot '../../ExchangeMfa.psd1'
        $output = Invoke-ChildPwsh -Command "Import-Module '$manifest'; Uninstall-ExchangeMfaCompatibility -Path '$fresh' -Confirm:`$false; 'done'" 2>&1 |
            ForEach-Object { "$_" }
        $output | Should -Be 'done'
        Test-Path (Join-Path $fresh 'ExchangeOnlineManagement') | Should -BeFalse
    }
}
