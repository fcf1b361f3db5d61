# Shared setup for the Pester tests: starts the project's emulator (identity
# platform + Exchange admin REST on 127.0.0.1), talks to its control
# endpoints with TLS verified against its throwaway CA, and stops it.

$script:RepoRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
$script:Emulator = $null
$script:Http = $null

function Get-RepoRoot { $script:RepoRoot }

function Start-TestEmulator {
    # Starts `node tests/emulator/server.mjs` in a fresh state folder, reads
    # its ready line, and points the helper at its CA (EXCHANGEMFA_CA_FILE).
    # Devices poll every second so the tests do not wait 5 s per sign-in.
    param(
        [int] $Mailboxes = 2500,
        [string] $AutoApprove = 'admin@contoso.onmicrosoft.com',
        [string[]] $ExtraArguments = @()
    )
    $dir = Join-Path ([System.IO.Path]::GetTempPath()) "exchangemfa-pester-$([guid]::NewGuid().ToString('n').Substring(0, 12))"
    New-Item -ItemType Directory -Path $dir | Out-Null
    $server = Join-Path $script:RepoRoot 'tests/emulator/server.mjs'
    if (-not (Test-Path $server)) { throw "The emulator is missing: $server" }

    # The emulator logs every request to stderr: a file keeps test output
    # readable and its pipe from filling up. stdin stays open: the emulator
    # exits when it closes.
    $startInfo = [System.Diagnostics.ProcessStartInfo]::new('/bin/sh')
    foreach ($arg in @('-c', 'exec node "$@" 2>>"$EMULATOR_LOG"', 'sh', $server, '--dir', $dir,
            '--mailboxes', $Mailboxes, '--device-interval', '1') + $ExtraArguments) {
        $startInfo.ArgumentList.Add([string]$arg)
    }
    if ($AutoApprove) { $startInfo.ArgumentList.Add('--auto-approve'); $startInfo.ArgumentList.Add($AutoApprove) }
    $startInfo.Environment['EMULATOR_LOG'] = Join-Path $dir 'emulator.log'
    $startInfo.UseShellExecute = $false
    $startInfo.RedirectStandardInput = $true
    $startInfo.RedirectStandardOutput = $true
    $process = [System.Diagnostics.Process]::Start($startInfo)

    $read = $process.StandardOutput.ReadLineAsync()
    if (-not $read.Wait(30000) -or $null -eq $read.Result) {
        try { $process.Kill($true) } catch { $null = $_ }
        $log = Get-Content (Join-Path $dir 'emulator.log') -Raw -ErrorAction Ignore
        throw "The emulator did not start: $log"
    }
    $ready = $read.Result | ConvertFrom-Json
    $env:EXCHANGEMFA_CA_FILE = $ready.caFile

    $ca = [System.Security.Cryptography.X509Certificates.X509Certificate2]::CreateFromPem((Get-Content $ready.caFile -Raw))
    $handler = [System.Net.Http.SocketsHttpHandler]::new()
    $policy = [System.Security.Cryptography.X509Certificates.X509ChainPolicy]::new()
    $policy.TrustMode = [System.Security.Cryptography.X509Certificates.X509ChainTrustMode]::CustomRootTrust
    $policy.RevocationMode = [System.Security.Cryptography.X509Certificates.X509RevocationMode]::NoCheck
    [void]$policy.CustomTrustStore.Add($ca)
    $handler.SslOptions.CertificateChainPolicy = $policy
    $script:Http = [System.Net.Http.HttpClient]::new($handler)
    $script:Http.Timeout = [timespan]::FromSeconds(30)

    $script:Emulator = [pscustomobject]@{
        Url       = $ready.url
        CaFile    = $ready.caFile
        Authority = $ready.authority
        TenantId  = $ready.tenantId
        Domain    = $ready.domain
        Dir       = $dir
        Process   = $process
        Log       = Join-Path $dir 'emulator.log'
    }
    $script:Emulator
}

function Stop-TestEmulator {
    $emulator = $script:Emulator
    if (-not $emulator) { return }
    $script:Emulator = $null
    try {
        $emulator.Process.StandardInput.Close()
        if (-not $emulator.Process.WaitForExit(5000)) { $emulator.Process.Kill($true) }
    }
    catch { $null = $_ }
    if ($script:Http) { $script:Http.Dispose(); $script:Http = $null }
    Remove-Item -Recurse -Force $emulator.Dir -ErrorAction Ignore
    Remove-Item Env:EXCHANGEMFA_CA_FILE -ErrorAction Ignore
}

function Invoke-EmulatorControl {
    # POST (or GET) /_emulator/<Path> with a JSON body; returns the answer.
    param(
        [Parameter(Mandatory)] [string] $Path,
        [object] $Body,
        [ValidateSet('GET', 'POST')] [string] $Method = 'POST'
    )
    $uri = "$($script:Emulator.Url)/_emulator/$Path"
    $response = if ($Method -eq 'GET') {
        $script:Http.GetAsync($uri).GetAwaiter().GetResult()
    }
    else {
        $json = if ($null -ne $Body) { ConvertTo-Json -InputObject $Body -Depth 10 -Compress } else { '{}' }
        $content = [System.Net.Http.StringContent]::new($json, [System.Text.Encoding]::UTF8, 'application/json')
        $script:Http.PostAsync($uri, $content).GetAwaiter().GetResult()
    }
    $text = $response.Content.ReadAsStringAsync().GetAwaiter().GetResult()
    if (-not $response.IsSuccessStatusCode) { throw "Emulator $Path answered $([int]$response.StatusCode): $text" }
    if ($text) { $text | ConvertFrom-Json } else { $null }
}

function Set-EmulatorConfig {
    param([Parameter(Mandatory)] [hashtable] $Settings)
    Invoke-EmulatorControl -Path config -Body $Settings | Out-Null
}

function Get-EmulatorStats { Invoke-EmulatorControl -Path stats -Method GET }

function Reset-Emulator {
    # Counters and faults back to start, and the settings tests change.
    Invoke-EmulatorControl -Path reset | Out-Null
    Set-EmulatorConfig @{ tokenLifetime = 3600; deviceInterval = 1; deviceExpires = 900; pageDelayMs = 0
        autoApprove = 'admin@contoso.onmicrosoft.com'; autoApproveDelayMs = 0 }
}

function Get-TestConnectParameters {
    # Connect-ExchangeMfa parameters that point the helper at the emulator.
    param([string] $UserPrincipalName = 'admin@contoso.onmicrosoft.com')
    @{
        UserPrincipalName               = $UserPrincipalName
        Device                          = $true
        ShowBanner                      = $false
        AzureADAuthorizationEndpointUri = $script:Emulator.Authority
        ConnectionUri                   = $script:Emulator.Url
    }
}

function Invoke-ChildPwsh {
    # Runs a script in a new pwsh process and returns its output. pwsh may
    # be a .NET tool (dotnet + pwsh.dll) or a native launcher.
    param([Parameter(Mandatory)] [string] $Command)
    $exe = [Environment]::ProcessPath
    $prefix = @()
    if ((Split-Path $exe -Leaf) -in 'dotnet', 'dotnet.exe') { $prefix = @([Environment]::GetCommandLineArgs()[0]) }
    $encoded = [Convert]::ToBase64String([Text.Encoding]::Unicode.GetBytes($Command))
    & $exe @prefix -NoProfile -NonInteractive -EncodedCommand $encoded
}

function Get-TestHelperProcessId {
    # The running helper's process id, read from the module's state.
    $module = Get-Module ExchangeMfa
    if (-not $module) { return $null }
    & $module { if ($script:Helper) { $script:Helper.Process.Id } }
}

Export-ModuleMember -Function Get-RepoRoot, Start-TestEmulator, Stop-TestEmulator, Invoke-EmulatorControl,
    Set-EmulatorConfig, Get-EmulatorStats, Reset-Emulator, Get-TestConnectParameters, Get-TestHelperProcessId,
    Invoke-ChildPwsh
