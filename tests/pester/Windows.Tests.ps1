# The Windows helper (module/bin/win-x64/exchangemfa-helper.exe, built by
# ./build.sh windows) under Wine, driven by this Linux pwsh through the
# module's EXCHANGEMFA_HELPER_LAUNCHER (issue 11): device sign-in (pages
# gzip-compressed), silent sign-in from the DPAPI-sealed cache, a stream
# through token expiry, certificate sign-in, cancel, and the clean exit on
# stdin EOF. Wine runs in a prefix of its own under build/, with no
# display. Skipped, saying why, where wine or the Windows helper is missing.

BeforeDiscovery {
    $root = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    $helper = Join-Path $root 'module/bin/win-x64/exchangemfa-helper.exe'
    $script:skipWindows = if (-not (Get-Command wine -ErrorAction Ignore)) { 'wine is not installed (./build.sh windows-deps)' }
    elseif (-not (Test-Path $helper)) { "no Windows helper at $helper (./build.sh windows)" }
    if ($script:skipWindows) { Write-Host "Windows.Tests.ps1 skipped: $script:skipWindows" }
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    $root = Get-RepoRoot
    $script:winHelper = Join-Path $root 'module/bin/win-x64/exchangemfa-helper.exe'
    $script:skipWindows = -not (Get-Command wine -ErrorAction Ignore) -or -not (Test-Path $script:winHelper)
    $script:savedEnvironment = @{}
    $wineEnvironment = @{
        EXCHANGEMFA_HELPER          = $script:winHelper
        EXCHANGEMFA_HELPER_LAUNCHER = 'wine'
        WINEARCH                    = 'win64'
        WINEPREFIX                  = Join-Path $root 'build/wine-prefix'
        WINEDEBUG                   = '-all'
        WINEDLLOVERRIDES            = 'mscoree,mshtml='     # no Mono or Gecko installer windows
        DISPLAY                     = $null
        WAYLAND_DISPLAY             = $null
    }
    foreach ($name in $wineEnvironment.Keys) {
        $script:savedEnvironment[$name] = [Environment]::GetEnvironmentVariable($name)
        [Environment]::SetEnvironmentVariable($name, $wineEnvironment[$name])
    }
    if (-not $script:skipWindows) {
        # The prefix once, then one wineserver for the whole file.
        if (-not (Test-Path $env:WINEPREFIX)) { & wineboot --init *> $null }
        & wineserver -p 120
    }
    $script:emulator = Start-TestSession -Mailboxes 1000
    $script:appOnly = @{
        ShowBanner                      = $false
        AppId                           = $script:emulator.AppId
        Organization                    = $script:emulator.Domain
        ConnectionUri                   = $script:emulator.Url
        AzureADAuthorizationEndpointUri = "$($script:emulator.Url)/$($script:emulator.TenantId)"
    }

    function Get-HelperPathInUse {
        if ([ExchangeMfa.Helper]::Current) { [ExchangeMfa.Helper]::Current.Path }
    }
}

AfterAll {
    Stop-TestSession
    foreach ($name in $script:savedEnvironment.Keys) {
        [Environment]::SetEnvironmentVariable($name, $script:savedEnvironment[$name])
    }
    if (-not $script:skipWindows) {
        $env:WINEPREFIX = Join-Path (Get-RepoRoot) 'build/wine-prefix'
        & wineserver -k *> $null    # this prefix's server only
        Remove-Item Env:WINEPREFIX
    }
    Remove-Module TestSupport -ErrorAction Ignore
}

Describe 'The Windows helper under Wine' -Skip:([bool]$script:skipWindows) {
    BeforeEach { Reset-Emulator }
    AfterEach { Disconnect-ExchangeMfa -Confirm:$false -ErrorAction Ignore }

    It 'signs in with a device code and lists mailboxes, from gzip-compressed pages' {
        $device = Get-TestConnectParameters
        $connection = Connect-ExchangeMfa @device
        $connection.SignInMode | Should -Be 'DeviceCode'
        Get-HelperPathInUse | Should -Be $script:winHelper
        $mailboxes = @(Get-Mailbox -ResultSize 5)
        $mailboxes.Count | Should -Be 5
        $mailboxes[0].UserPrincipalName | Should -Match '@'
        # Its libcurl has zlib (tools/windows/build-deps.sh): it asked for gzip.
        $stats = Get-EmulatorStats
        $stats.pagesServed | Should -BeGreaterThan 0
        $stats.pagesServedGzip | Should -Be $stats.pagesServed
    }

    It 'signs in silently from the cache in a new helper, and the cache file is sealed with DPAPI' {
        $cache = Join-Path $script:emulator.Dir "cache-win-$([guid]::NewGuid().ToString('n').Substring(0, 8))"
        $env:EXCHANGEMFA_CACHE_DIR = $cache
        try {
            $device = Get-TestConnectParameters
            $device.Remove('InMemoryTokenCache')
            (Connect-ExchangeMfa @device).SignInMode | Should -Be 'DeviceCode'
            Disconnect-ExchangeMfa -Confirm:$false
            # Not the JSON document Linux writes: DPAPI's blob, no secret in it.
            $bytes = [System.IO.File]::ReadAllBytes((Join-Path $cache 'tokens.json'))
            $text = [System.Text.Encoding]::Latin1.GetString($bytes)
            $text | Should -Not -Match 'RefreshToken|secret|"home_account_id"'
            $bytes[0] | Should -Not -Be ([byte][char]'{')

            # A new helper (the module imported afresh) signs in from it.
            Import-Module (Join-Path (Get-RepoRoot) 'ExchangeMfa.psd1') -Force -Global
            Reset-Emulator
            (Connect-ExchangeMfa @device).SignInMode | Should -Be 'Silent'
            (Get-EmulatorStats).tokenRequests.device_code | Should -BeNullOrEmpty
            @(Get-Mailbox -ResultSize 2).Count | Should -Be 2
        }
        finally { Remove-Item Env:EXCHANGEMFA_CACHE_DIR }
    }

    It 'streams 1,000 mailboxes while the access token expires mid-stream' {
        # Tokens live 4 s; 10 pages 700 ms apart take 7 s.
        Set-EmulatorConfig @{ tokenLifetime = 4; pageDelayMs = 700 }
        $device = Get-TestConnectParameters
        $null = Connect-ExchangeMfa @device -PageSize 100
        $names = [System.Collections.Generic.HashSet[string]]::new()
        $count = 0
        Get-Mailbox -ResultSize Unlimited | ForEach-Object { $count++; [void]$names.Add($_.Guid) }
        $count | Should -Be 1000
        $names.Count | Should -Be 1000
        (Get-EmulatorStats).tokenRequests.refresh_token | Should -BeGreaterOrEqual 1
    }

    It 'signs in with a certificate file, and by thumbprint from the certificate folder' {
        $connection = Connect-ExchangeMfa @script:appOnly -CertificateFilePath $script:emulator.AppCertFile `
            -CertificateKeyFilePath $script:emulator.AppKeyFile
        $connection.SignInMode | Should -Be 'Certificate'
        @(Get-Mailbox -ResultSize 3).Count | Should -Be 3
        Disconnect-ExchangeMfa -Confirm:$false

        $folder = Join-Path $script:emulator.Dir 'certificates-win'
        New-Item -ItemType Directory -Path $folder -Force | Out-Null
        $pem = Join-Path $folder 'app.pem'
        (Get-Content $script:emulator.AppCertFile -Raw) + (Get-Content $script:emulator.AppKeyFile -Raw) |
            Set-Content $pem -NoNewline
        chmod 600 $pem
        $thumbprint = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new(
            $script:emulator.AppCertFile).Thumbprint
        $env:EXCHANGEMFA_CERTIFICATE_DIR = $folder
        try {
            (Connect-ExchangeMfa @script:appOnly -CertificateThumbprint $thumbprint).SignInMode | Should -Be 'Certificate'
        }
        finally { Remove-Item Env:EXCHANGEMFA_CERTIFICATE_DIR }
        (Get-EmulatorStats).tokenRequests.client_credentials | Should -Be 2
    }

    It 'ends a device sign-in within 2 s of Ctrl+C, and polls no more' {
        Set-EmulatorConfig @{ autoApprove = '' }
        $background = Start-BackgroundConnect -Parameters (Get-TestConnectParameters) -WaitFor DeviceCode
        try {
            $background.Shown | Should -Not -BeNullOrEmpty
            Start-Sleep -Milliseconds 2500
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            $background.PowerShell.Stop()
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 2
            $before = (Get-EmulatorStats).tokenRequests.device_code
            $before | Should -BeGreaterThan 0
            Start-Sleep -Milliseconds 3000
            (Get-EmulatorStats).tokenRequests.device_code | Should -Be $before
        }
        finally { Stop-BackgroundConnect -Background $background }
    }

    It 'exits 0 when its stdin closes, after answering what it was sent' {
        $start = [System.Diagnostics.ProcessStartInfo]::new('wine')
        $start.ArgumentList.Add($script:winHelper)
        $start.RedirectStandardInput = $true
        $start.RedirectStandardOutput = $true
        $start.RedirectStandardError = $true
        $process = [System.Diagnostics.Process]::Start($start)
        try {
            $process.StandardInput.NewLine = "`n"
            $process.StandardInput.WriteLine('{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":1}}')
            $process.StandardInput.Close()
            $process.WaitForExit(20000) | Should -BeTrue
            $process.ExitCode | Should -Be 0
            $reply = $process.StandardOutput.ReadToEnd()
            $reply | Should -Match '"id":1,"result":\{"protocolVersion":1'
            $reply | Should -Not -Match "`r"       # binary stdout: no CRLF
        }
        finally { if (-not $process.HasExited) { $process.Kill() } }
    }
}
