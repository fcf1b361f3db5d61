# The token cache seen from PowerShell (issue 4): silent sign-in in a new
# process, the file's modes, memory-only connections, -ForgetCache, a
# corrupt file, two processes racing for one refresh, a revoked refresh
# token. Each test gets its own cache folder (EXCHANGEMFA_CACHE_DIR, read by
# the helper when it starts).

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    $script:emulator = Start-TestEmulator -Mailboxes 50
    $script:manifest = (Resolve-Path (Join-Path $PSScriptRoot '../../ExchangeMfa.psd1')).Path
    Import-Module $script:manifest -Force
    $script:upn = 'admin@contoso.onmicrosoft.com'
    $script:device = @{
        UserPrincipalName               = $script:upn
        Device                          = $true
        ShowBanner                      = $false
        AzureADAuthorizationEndpointUri = $script:emulator.Authority
        ConnectionUri                   = $script:emulator.Url
    }

    function New-CacheFolder {
        # A fresh cache folder for the next helper (and its child processes).
        $path = Join-Path $script:emulator.Dir "cache-$([guid]::NewGuid().ToString('n').Substring(0, 8))"
        $env:EXCHANGEMFA_CACHE_DIR = $path
        $path
    }

    function Save-ExpiringSignIn {
        # A device sign-in cached in a new folder with a token the cache
        # counts as expired (within 5 minutes of its end), so the next
        # connection must refresh; then the emulator's counters and token
        # lifetime are reset. Returns the folder.
        $folder = New-CacheFolder
        Set-EmulatorConfig @{ tokenLifetime = 200 }
        $null = Connect-ExchangeMfa @script:device
        Disconnect-ExchangeMfa -Confirm:$false
        Reset-Emulator
        $folder
    }

    function Get-Mode([string] $Path) { (& stat -c '%a' $Path).Trim() }

    function Get-ChildScript([string] $Mode = 'interactive') {
        # A new pwsh that connects with -UserPrincipalName only. A browser
        # that fails stands in for the user: a prompt would not finish.
        $modeArgument = if ($Mode -eq 'device') { '-Device' } else { '' }
        @"
`$env:BROWSER = '/bin/false'
Import-Module '$script:manifest'
`$c = Connect-ExchangeMfa -UserPrincipalName $script:upn $modeArgument -ShowBanner:`$false ``
    -AzureADAuthorizationEndpointUri '$($script:emulator.Authority)' -ConnectionUri '$($script:emulator.Url)' 6>`$null 3>`$null
`$n = @(Get-Mailbox -ResultSize 2).Count
[pscustomobject]@{ SignInMode = `$c.SignInMode; Mailboxes = `$n } | ConvertTo-Json -Compress
"@
    }

    function Invoke-ChildConnect([string] $Mode = 'interactive') {
        $output = Invoke-ChildPwsh -Command (Get-ChildScript $Mode) 2>&1
        $json = $output | Where-Object { "$_" -like '{*' } | Select-Object -Last 1
        if (-not $json) { throw "The child pwsh failed: $($output -join "`n")" }
        $json | ConvertFrom-Json
    }

    function Get-CachedAccountCount([string] $Folder) {
        $file = Join-Path $Folder 'tokens.json'
        if (-not (Test-Path $file)) { return 0 }
        $cache = Get-Content $file -Raw | ConvertFrom-Json -AsHashtable
        @($cache['RefreshToken'].Keys).Count + @($cache['Account'].Keys).Count
    }
}

AfterAll {
    Disconnect-ExchangeMfa -Confirm:$false -ErrorAction Ignore
    Remove-Module ExchangeMfa -ErrorAction Ignore
    Stop-TestEmulator
    Remove-Module TestSupport -ErrorAction Ignore
}

Describe 'Token cache and silent sign-in' {
    BeforeEach { Reset-Emulator }
    AfterEach { Disconnect-ExchangeMfa -Confirm:$false -ErrorAction Ignore }

    It 'keeps tokens in a 0600 file inside a 0700 folder' {
        $folder = New-CacheFolder
        (Connect-ExchangeMfa @script:device).SignInMode | Should -Be 'DeviceCode'
        Get-Mode $folder | Should -Be '700'
        Get-Mode (Join-Path $folder 'tokens.json') | Should -Be '600'
        Get-CachedAccountCount $folder | Should -BeGreaterThan 0
    }

    It 'connects a new PowerShell process with no prompt after a first sign-in' {
        $null = New-CacheFolder
        $null = Connect-ExchangeMfa @script:device
        Disconnect-ExchangeMfa -Confirm:$false
        Reset-Emulator
        $child = Invoke-ChildConnect
        $child.SignInMode | Should -Be 'Silent'
        $child.Mailboxes | Should -Be 2
        $stats = Get-EmulatorStats
        [int]$stats.authorizeRequests | Should -Be 0
        [int]$stats.devicecodeRequests | Should -Be 0
        [int]$stats.tokenRequests.refresh_token | Should -Be 0 -Because 'the cached access token is still valid'
    }

    It 'connects silently and reads in a new pwsh with nothing loaded ahead, calling no cmdlet of PowerShell''s own modules' {
        # Connect's requests and replies go through compiled code
        # (RequestLine.cs, JsonLine): none of them may lean on an assembly
        # that something else happened to load first. pwsh's JIT profile
        # (in XDG_CACHE_HOME) loads ahead what the last run used, so the
        # child gets an empty cache home of its own.
        $null = New-CacheFolder
        $null = Connect-ExchangeMfa @script:device
        Disconnect-ExchangeMfa -Confirm:$false
        $savedCacheHome = $env:XDG_CACHE_HOME
        $env:XDG_CACHE_HOME = (New-Item -ItemType Directory -Path (Join-Path $TestDrive "cache-home-$([guid]::NewGuid())")).FullName
        try {
            $output = Invoke-ChildPwsh -Command @"
`$env:BROWSER = '/bin/false'
Import-Module '$script:manifest'
`$c = Connect-ExchangeMfa -UserPrincipalName $script:upn -ShowBanner:`$false ``
    -AzureADAuthorizationEndpointUri '$($script:emulator.Authority)' -ConnectionUri '$($script:emulator.Url)'
`$modules = [string]::Join(',', (Get-Module).Name)
`$n = @(Get-Mailbox -ResultSize 2 -WarningAction SilentlyContinue).Count
`$afterCall = [string]::Join(',', (Get-Module).Name)
[pscustomobject]@{ SignInMode = `$c.SignInMode; Modules = `$modules; Mailboxes = `$n; AfterCall = `$afterCall } | ConvertTo-Json -Compress
"@ 2>&1
        }
        finally { $env:XDG_CACHE_HOME = $savedCacheHome }
        $json = $output | Where-Object { "$_" -like '{*' } | Select-Object -Last 1
        $json | Should -Not -BeNullOrEmpty -Because ($output -join "`n")
        $child = $json | ConvertFrom-Json
        $child.SignInMode | Should -Be 'Silent'
        # Connect imports the module's views (docs/module.md, Formatting).
        $child.Modules | Should -Be 'ExchangeMfa,ExchangeMfa.Views'
        # The first Exchange command autoloads its command group, nothing else.
        $child.Mailboxes | Should -Be 2
        $child.AfterCall | Should -Be 'ExchangeMfa,ExchangeMfa.Commands.Mailbox,ExchangeMfa.Views'
    }

    It '-InMemoryTokenCache writes no cache file' {
        $folder = New-CacheFolder
        (Connect-ExchangeMfa @script:device -InMemoryTokenCache).SignInMode | Should -Be 'DeviceCode'
        Test-Path (Join-Path $folder 'tokens.json') | Should -BeFalse
    }

    It 'Disconnect-ExchangeMfa -ForgetCache removes the account, so the next sign-in prompts' {
        $folder = New-CacheFolder
        $null = Connect-ExchangeMfa @script:device
        Get-CachedAccountCount $folder | Should -BeGreaterThan 0
        Disconnect-ExchangeMfa -ForgetCache -Confirm:$false
        Get-CachedAccountCount $folder | Should -Be 0
        (Invoke-ChildConnect -Mode device).SignInMode | Should -Be 'DeviceCode'
    }

    It 'sets a corrupt cache file aside with a warning and signs in normally' {
        $folder = New-CacheFolder
        New-Item -ItemType Directory -Path $folder | Out-Null
        chmod 700 $folder
        $file = Join-Path $folder 'tokens.json'
        Set-Content -Path $file -Value '{"AccessToken": [not json'
        chmod 600 $file
        $connection = Connect-ExchangeMfa @script:device -WarningVariable warned 3>$null
        $connection.SignInMode | Should -Be 'DeviceCode'
        ($warned | Out-String) | Should -Match '(?i)cache'
        @(Get-ChildItem $folder -Filter 'tokens.json.corrupt-*').Count | Should -Be 1
    }

    It 'two processes racing for one refresh cause exactly one refresh_token grant' {
        # Both processes find the expiring token; the refreshed one lives an hour.
        $null = Save-ExpiringSignIn
        $script = Get-ChildScript
        $support = Join-Path $PSScriptRoot 'TestSupport.psm1'
        $jobs = 1..2 | ForEach-Object {
            Start-ThreadJob -ArgumentList $support, $script -ScriptBlock {
                param($Support, $Script)
                Import-Module $Support
                Invoke-ChildPwsh -Command $Script 2>&1
            }
        }
        $results = $jobs | Wait-Job -Timeout 120 | Receive-Job
        $jobs | Remove-Job -Force
        $answers = @($results | Where-Object { "$_" -like '{*' } | ForEach-Object { $_ | ConvertFrom-Json })
        $answers.Count | Should -Be 2 -Because ($results -join "`n")
        $answers.SignInMode | Should -Be @('Silent', 'Silent')
        (Get-EmulatorStats).tokenRequests.refresh_token | Should -Be 1
    }

    It 'falls back to a sign-in when the refresh token was revoked' {
        $folder = Save-ExpiringSignIn
        Invoke-EmulatorControl -Path revoke-refresh-tokens -Body @{ upn = $script:upn } | Out-Null
        (Invoke-ChildConnect -Mode device).SignInMode | Should -Be 'DeviceCode'
        $stats = Get-EmulatorStats
        [int]$stats.tokenRequests.refresh_token | Should -Be 1 -Because 'the silent attempt came first'
        [int]$stats.tokenRequests.device_code | Should -BeGreaterThan 0
        Get-CachedAccountCount $folder | Should -BeGreaterThan 0 -Because 'the new sign-in is cached again'
    }
}
