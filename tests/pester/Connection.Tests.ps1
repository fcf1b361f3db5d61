# Connect / Get / Disconnect against the emulator: the typed session, no
# secrets anywhere, pipeline and -WhatIf, several connections at once.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    $script:emulator = Start-TestEmulator -Mailboxes 120
    Import-Module (Join-Path $PSScriptRoot '../../ExchangeMfa.psd1') -Force
    $script:jwt = 'eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}'

    function Invoke-ConnectingChild([scriptblock] $Script, [string] $Manifest = (Join-Path $PSScriptRoot '../../ExchangeMfa.psd1')) {
        # Runs $Script in a new pwsh as `& $Script $Manifest $Parameters`, the
        # parameters those of a device-code Connect to the emulator.
        $parameters = Get-TestConnectParameters
        Invoke-ChildPwsh -Command ("& { $Script } '$Manifest' " +
            "@{ UserPrincipalName = '$($parameters.UserPrincipalName)'; Device = `$true; ShowBanner = `$false; " +
            "AzureADAuthorizationEndpointUri = '$($parameters.AzureADAuthorizationEndpointUri)'; ConnectionUri = '$($parameters.ConnectionUri)' }")
    }
}

AfterAll {
    Remove-Module ExchangeMfa -ErrorAction Ignore
    Stop-TestEmulator
    Remove-Module TestSupport -ErrorAction Ignore
}

Describe 'Connect-ExchangeMfa -Device' {
    BeforeAll {
        Reset-Emulator
        $parameters = Get-TestConnectParameters
        # Every stream is captured: none may carry a token.
        $all = Connect-ExchangeMfa @parameters -InformationVariable info -Verbose -Debug 4>&1 5>&1
        $script:connection = $all | Where-Object { $_.PSObject.TypeNames[0] -eq 'ExchangeMfa.Connection' }
        $script:streams = ($all | Where-Object { $_ -ne $script:connection } | Out-String) + ($info | Out-String)
        $script:info = $info
    }

    AfterAll {
        Disconnect-ExchangeMfa -Confirm:$false
    }

    It 'returns a typed ExchangeMfa.Connection' {
        $script:connection.PSObject.TypeNames[0] | Should -Be 'ExchangeMfa.Connection'
        $script:connection.ConnectionId | Should -Match '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
        $script:connection.UserPrincipalName | Should -Be 'admin@contoso.onmicrosoft.com'
        $script:connection.TenantId | Should -Be $script:emulator.TenantId
        $script:connection.SignInMode | Should -Be 'DeviceCode'
        $script:connection.State | Should -Be 'Connected'
        $script:connection.Environment | Should -Be 'O365Default'
        $script:connection.TokenExpiresUtc | Should -BeOfType [datetime]
        $script:connection.TokenExpiresUtc | Should -BeGreaterThan ([datetime]::UtcNow)
        $script:connection.IsDefault | Should -BeTrue
    }

    It 'showed the device code message as soon as it came' {
        $code = $script:info | Where-Object { $_.Tags -contains 'DeviceCode' }
        $code | Should -Not -BeNullOrEmpty
        $code.MessageData.UserCode | Should -Not -BeNullOrEmpty
        $code.MessageData.Message | Should -Match ([regex]::Escape($code.MessageData.UserCode))
        # Write-Host too, so it shows even when the output is captured.
        $hostLines = $script:info | Where-Object { $_.Tags -contains 'PSHOST' } | ForEach-Object { "$($_.MessageData)" }
        $hostLines | Should -Contain $code.MessageData.Message
    }

    It 'holds no token or secret in any property or formatted view' {
        $names = $script:connection.PSObject.Properties.Name
        $names | Where-Object { $_ -match 'Token|Secret|Password|Key' -and $_ -ne 'TokenExpiresUtc' } | Should -BeNullOrEmpty
        foreach ($property in $script:connection.PSObject.Properties) {
            "$($property.Value)" | Should -Not -Match $script:jwt -Because "$($property.Name) must hold no token"
        }
        $text = ($script:connection | Format-Table | Out-String) + ($script:connection | Format-List * | Out-String) +
            ($script:connection | ConvertTo-Json -Depth 5)
        $text | Should -Not -Match $script:jwt
        $text | Should -Not -Match 'refresh'
    }

    It 'shows the documented fields by default, and a narrower table' {
        $labels = ($script:connection | Out-String -Width 200) -split "`n" |
            Where-Object { $_ -match '^(\w+)\s*:' } | ForEach-Object { ($_ -split '\s*:')[0] }
        $labels | Should -Be @('ConnectionId', 'UserPrincipalName', 'TenantId', 'Organization', 'Environment',
            'SignInMode', 'TokenExpiresUtc', 'State')
        $table = $script:connection | Format-Table | Out-String -Width 80
        $table | Should -Match 'UserPrincipalName\s+SignInMode\s+TokenExpiresUtc\s+State'
        $table | Should -Match 'admin@contoso\.onmicrosoft\.com\s+DeviceCode\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+Connected'
        # The default (list) view fits an 80-column terminal without cutting anything.
        $lines = ($script:connection | Out-String -Width 80) -split "`n" | Where-Object { $_ -match ':' }
        ($lines | Where-Object { $_ -match '…' }) | Should -BeNullOrEmpty
        ($lines -join "`n") | Should -Match ([regex]::Escape($script:connection.ConnectionId))
        ($lines -join "`n") | Should -Match 'SignInMode\s+: DeviceCode'
    }

    It 'is listed by Get-ExchangeMfaConnection' {
        $listed = @(Get-ExchangeMfaConnection)
        $listed.Count | Should -Be 1
        $listed[0].PSObject.TypeNames[0] | Should -Be 'ExchangeMfa.Connection'
        $listed[0].ConnectionId | Should -Be $script:connection.ConnectionId
        (Get-ExchangeMfaConnection -ConnectionId $script:connection.ConnectionId).ConnectionId | Should -Be $script:connection.ConnectionId
        # Ids compare as PowerShell compares strings: a pasted upper-case id is found.
        (Get-ExchangeMfaConnection -ConnectionId $script:connection.ConnectionId.ToUpperInvariant()).ConnectionId | Should -Be $script:connection.ConnectionId
    }

    It 'reports an unknown -ConnectionId as a non-terminating error' {
        $found = Get-ExchangeMfaConnection -ConnectionId 'no-such-id' -ErrorVariable problems -ErrorAction SilentlyContinue
        $found | Should -BeNullOrEmpty
        $problems[0].FullyQualifiedErrorId | Should -BeLike 'ExchangeMfa.ConnectionNotFound*'
        $problems[0].TargetObject | Should -Be 'no-such-id'
    }

    It 'runs a helper that leaves no memory image: no core file, not dumpable (Linux)' -Skip:(-not $IsLinux) {
        $helperId = [ExchangeMfa.Helper]::Current.Process.Id
        # Soft and hard core size 0: no core file, and it cannot be raised again.
        (Get-Content "/proc/$helperId/limits") -match '^Max core file size\s+0\s+0\s' | Should -Not -BeNullOrEmpty
        # Not dumpable: the kernel gives its /proc files to root (visible
        # only when the tests do not run as root themselves).
        if ((id -u) -ne '0') { stat -c %u "/proc/$helperId/environ" | Should -Be '0' }
    }

    It 'leaves no token in verbose, debug or information output' {
        $script:streams | Should -Match 'ExchangeMfa helper' # the capture worked
        $script:streams | Should -Not -Match $script:jwt
        $streams = Get-ExchangeMfaConnection -Verbose -Debug 4>&1 5>&1 6>&1 | Out-String
        $streams | Should -Not -Match $script:jwt
    }
}

Describe 'Disconnect-ExchangeMfa' {
    BeforeEach {
        Reset-Emulator
        $parameters = Get-TestConnectParameters
        $script:connection = Connect-ExchangeMfa @parameters
    }

    AfterEach {
        Disconnect-ExchangeMfa -Confirm:$false
    }

    It '-WhatIf closes nothing' {
        Disconnect-ExchangeMfa -WhatIf
        Get-ExchangeMfaConnection | Should -Not -BeNullOrEmpty
    }

    It 'takes connections from the pipeline and stops the helper with the last one' {
        Get-TestHelperProcessId | Should -Not -BeNullOrEmpty
        $helperId = Get-TestHelperProcessId
        Get-ExchangeMfaConnection | Disconnect-ExchangeMfa -Confirm:$false
        Get-ExchangeMfaConnection | Should -BeNullOrEmpty
        Get-TestHelperProcessId | Should -BeNullOrEmpty
        Get-Process -Id $helperId -ErrorAction Ignore | Should -BeNullOrEmpty
        # The proxy commands stay (they are the module's, loaded on use) but
        # have no connection left.
        { Get-Mailbox -ErrorAction Stop } | Should -Throw -ErrorId 'ExchangeMfa.NotConnected,Get-Mailbox'
        { Invoke-ExchangeMfaCommand Get-Mailbox -ResultSize 1 } | Should -Throw -ErrorId 'ExchangeMfa.NotConnected,ExchangeMfa.InvokeExchangeMfaCommandCommand'
    }

    It 'reports an unknown -ConnectionId without closing the others' {
        Disconnect-ExchangeMfa -ConnectionId 'no-such-id' -Confirm:$false -ErrorVariable problems -ErrorAction SilentlyContinue
        $problems[0].FullyQualifiedErrorId | Should -BeLike 'ExchangeMfa.ConnectionNotFound*'
        $problems[0].CategoryInfo.Category | Should -Be 'InvalidOperation'
        @(Get-ExchangeMfaConnection).Count | Should -Be 1
    }
}

Describe 'Two connections at once' {
    BeforeAll {
        Reset-Emulator
        $contoso = Get-TestConnectParameters
        $script:first = Connect-ExchangeMfa @contoso
        Set-EmulatorConfig @{ autoApprove = 'admin@fabrikam.onmicrosoft.com' }
        $fabrikam = Get-TestConnectParameters -UserPrincipalName admin@fabrikam.onmicrosoft.com
        $script:second = Connect-ExchangeMfa @fabrikam -Organization fabrikam.onmicrosoft.com -PageSize 20
    }

    AfterAll {
        Disconnect-ExchangeMfa -Confirm:$false
        # The default approver again: a code for admin@contoso approved by
        # fabrikam's admin is now refused (issue 10).
        Set-EmulatorConfig @{ autoApprove = 'admin@contoso.onmicrosoft.com' }
    }

    It 'keeps both, in the order opened, the newest as default' {
        $listed = @(Get-ExchangeMfaConnection)
        $listed.ConnectionId | Should -Be @($script:first.ConnectionId, $script:second.ConnectionId)
        $listed[1].IsDefault | Should -BeTrue
        $listed[0].IsDefault | Should -BeFalse
        $listed[1].TenantId | Should -Be '0f1e2d3c-4b5a-4697-8877-665544332211'
        $listed[1].PageSize | Should -Be 20
    }

    It 'uses the default connection, or the one named by -ConnectionId' {
        @(Get-Mailbox -ResultSize Unlimited).Count | Should -Be 50   # fabrikam
        @(Get-Mailbox -ResultSize Unlimited -ConnectionId $script:first.ConnectionId).Count | Should -Be 120
    }

    It 'falls back to the remaining connection when the default closes' {
        Disconnect-ExchangeMfa -ConnectionId $script:second.ConnectionId -Confirm:$false
        $left = @(Get-ExchangeMfaConnection)
        $left.ConnectionId | Should -Be @($script:first.ConnectionId)
        $left[0].IsDefault | Should -BeTrue
        @(Get-Mailbox -ResultSize 5).Count | Should -Be 5
    }
}

Describe 'Views' {
    It 'imports its views with the first Connect without -SkipLoadingFormatData, not at import, once; Remove-Module takes them' {
        $script = {
            param($Manifest, $Parameters)
            function Get-ViewCount { @(Get-FormatData -TypeName 'ExchangeMfa.*').Count }
            Import-Module $Manifest
            $atImport = Get-ViewCount
            $null = Connect-ExchangeMfa @Parameters -SkipLoadingFormatData 6>$null
            $afterSkip = Get-ViewCount
            $connection = Connect-ExchangeMfa @Parameters 6>$null
            $afterConnect = Get-ViewCount
            $null = Connect-ExchangeMfa @Parameters 6>$null
            $modules = @(Get-Module -Name ExchangeMfa.Views).Count
            $table = $connection | Format-Table | Out-String
            Remove-Module ExchangeMfa
            @{ AtImport = $atImport; AfterSkip = $afterSkip; AfterConnect = $afterConnect; Modules = $modules; Table = $table
               AfterRemove = Get-ViewCount; ViewsModule = [bool](Get-Module -Name ExchangeMfa.Views) } | ConvertTo-Json -Compress
        }
        $result = Invoke-ConnectingChild $script | Select-Object -Last 1 | ConvertFrom-Json
        $result.AtImport | Should -Be 0
        $result.AfterSkip | Should -Be 0
        $result.AfterConnect | Should -BeGreaterThan 5
        # One views module, however many Connects.
        $result.Modules | Should -Be 1
        # The module's table view (in 73 columns, no ConnectionId), not
        # PowerShell's default table of the first properties.
        $result.Table | Should -Match 'UserPrincipalName\s+SignInMode\s+TokenExpiresUtc\s+State'
        $result.Table | Should -Not -Match 'ConnectionId'
        $result.AfterRemove | Should -Be 0
        $result.ViewsModule | Should -BeFalse
    }

    It 'connects with a warning when the views cannot be loaded' {
        $copy = Join-Path ([System.IO.Path]::GetTempPath()) "exchangemfa-noviews-$PID"
        try {
            New-Item -ItemType Directory -Path (Join-Path $copy 'module/Views') -Force | Out-Null
            Copy-Item (Join-Path $PSScriptRoot '../../ExchangeMfa.psd1') $copy
            Copy-Item (Join-Path $PSScriptRoot '../../module/bin'), (Join-Path $PSScriptRoot '../../module/Bundle') (Join-Path $copy 'module') -Recurse
            Set-Content (Join-Path $copy 'module/Views/ExchangeMfa.Views.psd1') '@{ ModuleVersion = ''0.1.0''; FormatsToProcess = @(''Missing.format.ps1xml'') }'
            $script = {
                param($Manifest, $Parameters)
                Import-Module $Manifest
                $c = Connect-ExchangeMfa @Parameters 6>$null 3>&1
                $c | Where-Object { $_ -is [System.Management.Automation.WarningRecord] } | ForEach-Object { 'warning: ' + $_.Message }
                'state: ' + (Get-ExchangeMfaConnection).State
            }
            $output = Invoke-ConnectingChild $script (Join-Path $copy 'ExchangeMfa.psd1') 2>&1 | ForEach-Object { "$_" }
            ($output -join "`n") | Should -Match "warning: ExchangeMfa's views could not be loaded, so its objects show every property"
            ($output -join "`n") | Should -Match 'state: Connected'
        }
        finally { Remove-Item $copy -Recurse -Force -ErrorAction Ignore }
    }
}

Describe 'PowerShell exiting' {
    It 'leaves no helper behind when PowerShell exits without disconnecting' {
        $script = {
            param($Manifest, $Parameters)
            Import-Module $Manifest
            $null = Connect-ExchangeMfa @Parameters 6>$null
            [ExchangeMfa.Helper]::Current.Process.Id
        }
        $helperId = Invoke-ConnectingChild $script
        $LASTEXITCODE | Should -Be 0
        $helperId | Should -Match '^\d+$'
        $deadline = [datetime]::UtcNow.AddSeconds(10)
        while ((Get-Process -Id $helperId -ErrorAction Ignore) -and [datetime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
        Get-Process -Id $helperId -ErrorAction Ignore | Should -BeNullOrEmpty
    }
}
