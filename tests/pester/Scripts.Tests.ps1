# Real-world admin scripts (tests/scripts), written for Microsoft's
# ExchangeOnlineManagement module, run unchanged against the emulator; each
# test checks the script's real output (CSV rows and values) against what
# the emulator holds. The test only injects where to connect, through
# $PSDefaultParameterValues, as a user's profile could. A script that stops
# only because a command or behaviour of another branch is missing is
# skipped with that branch's name; the summary prints the share that runs.

BeforeDiscovery {
    $script:scripts = @(
        @{ Script = 'Export-MailboxPermissionReport.ps1' }
        @{ Script = 'Export-MailboxSizeReport.ps1' }
        @{ Script = 'Update-MailboxFromCsv.ps1' }
        @{ Script = 'Export-MessageTraceReport.ps1' }
        @{ Script = 'Export-InactiveMailboxReport.ps1' }
        @{ Script = 'Export-ForwardingReport.ps1' }
        @{ Script = 'Invoke-ComplianceContentSearch.ps1' }
    )
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    $script:emulator = Start-TestSession -Mailboxes 60
    Reset-Emulator
    $script:scriptDir = Join-Path (Get-RepoRoot) 'tests/scripts'
    $script:work = Join-Path $emulator.Dir 'scripts'
    New-Item -ItemType Directory -Path $work | Out-Null
    $script:outcomes = [ordered]@{}

    # Where to connect: the emulator, by the device flow it approves itself.
    $connect = Get-TestConnectParameters
    $script:savedDefaults = $global:PSDefaultParameterValues.Clone()
    # Security & Compliance is the emulator's other host, localhost
    # (tests/emulator/compliance.mjs), as ps.compliance.protection.outlook.com is.
    $endpoints = @{
        'Connect-ExchangeOnline' = $connect.ConnectionUri
        'Connect-IPPSSession'    = ([uri]$connect.ConnectionUri).GetComponents('Port', 'UriEscaped') -replace '^', 'https://localhost:'
    }
    foreach ($command in $endpoints.Keys) {
        $global:PSDefaultParameterValues["${command}:UserPrincipalName"] = $connect.UserPrincipalName
        $global:PSDefaultParameterValues["${command}:Device"] = $true
        $global:PSDefaultParameterValues["${command}:InMemoryTokenCache"] = $true
        $global:PSDefaultParameterValues["${command}:ConnectionUri"] = $endpoints[$command]
        $global:PSDefaultParameterValues["${command}:AzureADAuthorizationEndpointUri"] = $connect.AzureADAuthorizationEndpointUri
    }

    # Sets up or reads the tenant straight through the emulator's REST
    # endpoint with an app-only token, so the checks need nothing the
    # scripts test (the module's Connect, proxies or value types).
    $script:http = & (Get-Module TestSupport) { $script:Http }
    $script:appToken = Get-TestAppAccessToken
    function Invoke-Tenant {
        param([Parameter(Mandatory)] [string] $Name, [hashtable] $Parameters = @{}, [string] $ResultSize)
        if ($ResultSize) { $Parameters = $Parameters + @{ ResultSize = $ResultSize } }
        $body = ConvertTo-Json -Depth 5 -Compress @{ CmdletInput = @{ CmdletName = $Name; Parameters = $Parameters } }
        $uri = "$($emulator.Url)/adminapi/beta/$($emulator.TenantId)/InvokeCommand"
        while ($uri) {
            $request = [System.Net.Http.HttpRequestMessage]::new('POST', $uri)
            $request.Headers.Authorization = [System.Net.Http.Headers.AuthenticationHeaderValue]::new('Bearer', $appToken)
            $request.Content = [System.Net.Http.StringContent]::new($body, [System.Text.Encoding]::UTF8, 'application/json')
            $response = $http.SendAsync($request).GetAwaiter().GetResult()
            $text = $response.Content.ReadAsStringAsync().GetAwaiter().GetResult()
            if (-not $response.IsSuccessStatusCode) { throw "$Name answered $([int]$response.StatusCode): $text" }
            $page = $text | ConvertFrom-Json
            $page.value
            $uri = $page.'@odata.nextLink'
        }
    }

    # What another branch brings that a script needs, by the error that
    # stopped the script; $null for any other error.
    function Get-MissingDependency {
        param([System.Management.Automation.ErrorRecord] $Failure)
        if ($Failure.Exception -is [System.Management.Automation.CommandNotFoundException]) {
            $command = $Failure.TargetObject
            if ($command -in 'Connect-ExchangeOnline', 'Disconnect-ExchangeOnline', 'Get-ConnectionInformation', 'Connect-IPPSSession') {
                return "branch 'names' ($command)"
            }
            if ($command -like 'Get-EXO*') { return "branches 'proxies' and 'catalogue' ($command)" }
            return "branch 'proxies' ($command)"
        }
        if ($Failure.Exception.Message -match "does not contain a method named '(ToMB|ToGB|ToBytes)'") {
            return "branch 'fidelity' (TotalItemSize.Value.$($Matches[1])())"
        }
        if ($Failure.Exception.Message -match 'CmdletNotModelledException|Security & Compliance|IPPSSession') {
            return "branch 'names' (the Security & Compliance endpoint of the emulator)"
        }
        $null
    }

    # Runs a script as an admin would (stopping at the first error) and
    # records the outcome: $true when it ran, else the test is skipped for
    # a missing dependency or fails with the script's own error.
    function Invoke-AdminScript {
        param([Parameter(Mandatory)] [string] $Script, [hashtable] $Arguments = @{})
        $path = Join-Path $scriptDir $Script
        $failure = $null
        $ErrorActionPreference = 'Stop'
        try { & $path @Arguments 6>$null | Out-Null }
        catch { $failure = $_ }
        if (-not $failure) {
            $script:outcomes[$Script] = 'runs unchanged'
            return
        }
        $missing = Get-MissingDependency $failure
        if ($missing) {
            $script:outcomes[$Script] = "waits for $missing"
            Set-ItResult -Skipped -Because "$Script needs $missing"
            return
        }
        $script:outcomes[$Script] = "fails: $($failure.Exception.Message)"
        throw $failure
    }
}

AfterAll {
    if ($script:outcomes -and $script:outcomes.Count -gt 0) {
        $ran = @($outcomes.Values | Where-Object { $_ -eq 'runs unchanged' }).Count
        Write-Host "Admin scripts: $ran of $($outcomes.Count) run unchanged"
        foreach ($entry in $outcomes.GetEnumerator()) { Write-Host "  $($entry.Key): $($entry.Value)" }
    }
    if ($script:savedDefaults) { $global:PSDefaultParameterValues = $script:savedDefaults }
    Stop-TestSession
    Remove-Module TestSupport -ErrorAction Ignore
}

Describe 'Admin scripts run unchanged against the emulator' {
    It 'has a test below for every script in tests/scripts' {
        (Get-ChildItem $scriptDir -Filter *.ps1).Name | Sort-Object | Should -Be ($scripts.Script | Sort-Object)
    } -TestCases @{ scripts = $scripts }

    It 'Export-MailboxPermissionReport: explicit Full Access entries, not SELF, one CSV row each' {
        Invoke-Tenant Add-MailboxPermission @{ Identity = 'shared00050'; User = 'user00003'; AccessRights = @('FullAccess') } | Out-Null
        Invoke-Tenant Add-MailboxPermission @{ Identity = 'user00010'; User = 'user00011'; AccessRights = @('FullAccess') } | Out-Null
        $csv = Join-Path $work 'permissions.csv'
        Invoke-AdminScript Export-MailboxPermissionReport.ps1 @{ OutputPath = $csv }
        $rows = @(Import-Csv $csv | Sort-Object MailboxUPN)
        $rows.Count | Should -Be 2
        $rows[0].MailboxUPN | Should -Be 'shared00050@contoso.onmicrosoft.com'
        $rows[0].MailboxType | Should -Be 'SharedMailbox'
        $rows[0].User | Should -Match 'user00003'
        $rows[0].AccessRights | Should -Be 'FullAccess'
        $rows[1].MailboxUPN | Should -Be 'user00010@contoso.onmicrosoft.com'
        $rows[1].User | Should -Match 'user00011'
    }

    It 'Export-MailboxSizeReport: one row per user mailbox, sizes in MB from TotalItemSize' {
        $csv = Join-Path $work 'sizes.csv'
        Invoke-AdminScript Export-MailboxSizeReport.ps1 @{ OutputPath = $csv }
        $rows = @(Import-Csv $csv)
        $users = @(Invoke-Tenant Get-Mailbox @{ RecipientTypeDetails = @('UserMailbox') } -ResultSize Unlimited)
        $rows.Count | Should -Be $users.Count
        [double]$rows[0].TotalSizeMB | Should -BeGreaterOrEqual ([double]$rows[-1].TotalSizeMB)
        $row = $rows | Where-Object UserPrincipalName -EQ 'user00007@contoso.onmicrosoft.com'
        $stats = Invoke-Tenant Get-MailboxStatistics @{ Identity = 'user00007' }
        $bytes = [double](([string]$stats.TotalItemSize) -replace '^.*\(([\d,]+) bytes\)$', '$1' -replace ',', '')
        # ByteQuantifiedSize.ToMB() answers whole megabytes, as Microsoft's does.
        [double]$row.TotalSizeMB | Should -Be ([math]::Floor($bytes / 1MB))
        [int]$row.ItemCount | Should -Be $stats.ItemCount
    }

    It 'Update-MailboxFromCsv: every row applied, an unknown user logged as failed' {
        $csv = Join-Path $work 'changes.csv'
        $log = Join-Path $work 'changes.log'
        @(
            [pscustomobject]@{ UserPrincipalName = 'user00021@contoso.onmicrosoft.com'; Office = 'Oslo'; Department = 'Sales'; Hide = 'yes' }
            [pscustomobject]@{ UserPrincipalName = 'user00022@contoso.onmicrosoft.com'; Office = 'Lyon'; Department = 'Legal'; Hide = 'no' }
            [pscustomobject]@{ UserPrincipalName = 'nobody@contoso.onmicrosoft.com'; Office = 'Rome'; Department = 'IT'; Hide = 'no' }
        ) | Export-Csv -Path $csv -NoTypeInformation
        Invoke-AdminScript Update-MailboxFromCsv.ps1 @{ CsvPath = $csv; LogPath = $log }
        $first = Invoke-Tenant Get-Mailbox @{ Identity = 'user00021' }
        @($first.Office, $first.CustomAttribute1, $first.HiddenFromAddressListsEnabled) | Should -Be @('Oslo', 'Sales', $true)
        $second = Invoke-Tenant Get-Mailbox @{ Identity = 'user00022' }
        @($second.Office, $second.CustomAttribute1, $second.HiddenFromAddressListsEnabled) | Should -Be @('Lyon', 'Legal', $false)
        $lines = @(Get-Content $log)
        $lines.Count | Should -Be 3
        @($lines | Where-Object { $_ -like 'OK*' }).Count | Should -Be 2
        ($lines | Where-Object { $_ -like 'FAILED*' }) | Should -Match "nobody@contoso.onmicrosoft.com: .*couldn't be found"
    }

    It 'Export-MessageTraceReport: the failed messages of the window, each with its reason' {
        $csv = Join-Path $work 'trace.csv'
        Invoke-AdminScript Export-MessageTraceReport.ps1 @{ Hours = 6; OutputPath = $csv }
        $rows = @(Import-Csv $csv)
        $end = [datetime]::UtcNow
        $expected = @(Invoke-Tenant Get-MessageTraceV2 @{ StartDate = $end.AddHours(-6).AddMinutes(-5).ToString('o'); EndDate = $end.ToString('o'); Status = 'Failed' })
        $rows.Count | Should -BeGreaterThan 0
        [math]::Abs($rows.Count - $expected.Count) | Should -BeLessOrEqual 1
        $rows | ForEach-Object { $_.Reason | Should -Match '^550 5\.1\.10 ' }
        $rows[0].Recipient | Should -BeIn $expected.RecipientAddress
    }

    It 'Export-InactiveMailboxReport: exactly the mailboxes without a logon for the given days' {
        $users = @(Invoke-Tenant Get-Mailbox @{ RecipientTypeDetails = @('UserMailbox') } -ResultSize Unlimited)
        $now = Get-Date
        $ages = @{}
        foreach ($user in $users) {
            $logon = (Invoke-Tenant Get-MailboxStatistics @{ Identity = $user.UserPrincipalName }).LastLogonTime
            $ages[$user.UserPrincipalName] = (New-TimeSpan -Start $logon -End $now).Days
        }
        # A threshold in the middle, so the report holds some and not all.
        $threshold = @($ages.Values | Sort-Object)[[int]($ages.Count / 2)]
        $csv = Join-Path $work 'inactive.csv'
        Invoke-AdminScript Export-InactiveMailboxReport.ps1 @{ InactiveDays = $threshold; OutputPath = $csv }
        $rows = @(Import-Csv $csv)
        $expected = @($ages.GetEnumerator() | Where-Object Value -GE $threshold | ForEach-Object Key | Sort-Object)
        @($rows.UserPrincipalName | Sort-Object) | Should -Be $expected
        $rows.Count | Should -BeLessThan $users.Count
    }

    It 'Export-ForwardingReport: mailbox forwarding and forwarding inbox rules, nothing else' {
        Invoke-Tenant Set-Mailbox @{ Identity = 'user00040'; ForwardingSmtpAddress = 'smtp:outside@example.com'; DeliverToMailboxAndForward = $true } | Out-Null
        Invoke-Tenant New-InboxRule @{ Mailbox = 'user00041'; Name = 'To my phone'; RedirectTo = @('me@example.net') } | Out-Null
        Invoke-Tenant New-InboxRule @{ Mailbox = 'user00041'; Name = 'Tidy'; MoveToFolder = 'user00041:\Archive' } | Out-Null
        $csv = Join-Path $work 'forwarding.csv'
        Invoke-AdminScript Export-ForwardingReport.ps1 @{ OutputPath = $csv }
        $rows = @(Import-Csv $csv | Sort-Object Mailbox)
        $rows.Count | Should -Be 2
        @($rows[0].Mailbox, $rows[0].Type, $rows[0].Target, $rows[0].KeepCopy) |
            Should -Be @('user00040@contoso.onmicrosoft.com', 'MailboxForwarding', 'outside@example.com', 'True')
        @($rows[1].Mailbox, $rows[1].Type, $rows[1].Name, $rows[1].Target) |
            Should -Be @('user00041@contoso.onmicrosoft.com', 'InboxRule', 'To my phone', 'me@example.net')
    }

    It 'Invoke-ComplianceContentSearch: the search completes and is reported' {
        $csv = Join-Path $work 'search.csv'
        Invoke-AdminScript Invoke-ComplianceContentSearch.ps1 @{ SearchName = 'Invoices'; TimeoutSeconds = 60; OutputPath = $csv }
        $rows = @(Import-Csv $csv)
        $rows.Count | Should -Be 1
        $rows[0].Name | Should -Be 'Invoices'
        $rows[0].Status | Should -Be 'Completed'
        $rows[0].ContentMatchQuery | Should -Be 'subject:"Invoice"'
        [int]$rows[0].Items | Should -BeGreaterOrEqual 0
    }
}
