# Benchmark for issue 5's closing note: prints figures, asserts nothing, one
# run. Reads every mailbox of an emulator with 100,000 of them, in pages of
# 1000, three ways, each in a fresh process so peak memories are separate:
#
#   ExchangeMfa         Get-Mailbox -ResultSize Unlimited | Measure-Object
#                       (pwsh + helper; the sign-in is not timed)
#   Invoke-RestMethod   a hand-written paging loop in pwsh following
#                       @odata.nextLink, counting objects (the token from
#                       the password grant of user@contoso, not timed)
#   curl                the same pages fetched sequentially to /dev/null
#                       (the floor: no JSON parsing at all)
#
# TLS verification stays on everywhere: the helper trusts the emulator's CA
# through EXCHANGEMFA_CA_FILE, Invoke-RestMethod through SSL_CERT_FILE (.NET
# on Linux reads its root store from there), curl through --cacert.
# Secrets never reach argv or a child's environment: the test password goes
# to the child's stdin, curl reads the bearer from a 0600 header file that
# is deleted afterwards.
#
#   pwsh -NoProfile -File bench/exchange.ps1 [-Mailboxes 100000]
param(
    [int] $Mailboxes = 100000,
    [ValidateRange(1, 1000)] [int] $PageSize = 1000
)

$ErrorActionPreference = 'Stop'
$root = Split-Path $PSScriptRoot -Parent
Import-Module (Join-Path $root 'tests/pester/TestSupport.psm1')

# The emulator's test user without MFA (tests/emulator/README.md) and
# Microsoft's Exchange public client.
$benchUser = 'user@contoso.onmicrosoft.com'
$benchPassword = 'P@ssw0rd!'
$publicClientId = 'fb78d390-0c51-40cd-8e17-fdbfab77341b'
$exchangeScope = 'https://outlook.office365.com/.default'

# Children read their peaks with the shared bench module, put in place of
# #PEAK# in each child script.
$peakFunction = "Import-Module '$(Join-Path $PSScriptRoot 'BenchSupport.psm1')'"

$exchangeMfaScript = @'
param($Root, $Authority, $Url)
#PEAK#
$ErrorActionPreference = 'Stop'
Import-Module "$Root/ExchangeMfa.psd1"
$null = Connect-ExchangeMfa -UserPrincipalName admin@contoso.onmicrosoft.com -Device -ShowBanner:$false `
    -InMemoryTokenCache -AzureADAuthorizationEndpointUri $Authority -ConnectionUri $Url 6>$null
$helperId = & (Get-Module ExchangeMfa) { $script:Helper.Process.Id }
$clock = [System.Diagnostics.Stopwatch]::StartNew()
$count = (Get-Mailbox -ResultSize Unlimited | Measure-Object).Count
$seconds = $clock.Elapsed.TotalSeconds
$result = [pscustomobject]@{ objects = $count; seconds = $seconds
    pwshMB = Get-PeakMemoryMB $PID; helperMB = Get-PeakMemoryMB $helperId }
Disconnect-ExchangeMfa -Confirm:$false
$result | ConvertTo-Json -Compress
'@

$restMethodScript = @'
param($Url, $Tenant, $User, $ClientId, $Scope, [int] $PageSize)
#PEAK#
$ErrorActionPreference = 'Stop'
$password = [Console]::In.ReadLine()
$grant = @{ grant_type = 'password'; client_id = $ClientId; scope = $Scope; username = $User; password = $password }
$token = (Invoke-RestMethod -Method Post -Uri "$Url/$Tenant/oauth2/v2.0/token" -Body $grant).access_token
$grant = $null
$password = $null
$headers = @{ Authorization = "Bearer $token"; Prefer = "odata.maxpagesize=$PageSize" }
$body = '{"CmdletInput":{"CmdletName":"Get-Mailbox","Parameters":{"ResultSize":"Unlimited"}}}'
$uri = "$Url/adminapi/beta/$Tenant/InvokeCommand"
$links = [System.Collections.Generic.List[string]]::new()
$count = 0
$clock = [System.Diagnostics.Stopwatch]::StartNew()
while ($uri) {
    $links.Add($uri)
    $page = Invoke-RestMethod -Method Post -Uri $uri -Headers $headers -Body $body -ContentType 'application/json'
    $count += @($page.value).Count
    $uri = $page.'@odata.nextLink'
}
$seconds = $clock.Elapsed.TotalSeconds
[pscustomobject]@{ objects = $count; seconds = $seconds; pages = $links.Count; links = $links; pwshMB = Get-PeakMemoryMB $PID } |
    ConvertTo-Json -Compress
'@

$idleScript = @'
#PEAK#
[pscustomobject]@{ pwshMB = Get-PeakMemoryMB $PID } | ConvertTo-Json -Compress
'@

function Invoke-Child {
    # Runs a program with non-secret arguments and an optional stdin text;
    # answers its stdout. Killed after $TimeoutSeconds.
    param(
        [Parameter(Mandatory)] [string] $FilePath,
        [string[]] $Arguments = @(),
        [string] $InputText,
        [hashtable] $Environment = @{},
        [int] $TimeoutSeconds = 600
    )
    $startInfo = [System.Diagnostics.ProcessStartInfo]::new($FilePath)
    foreach ($argument in $Arguments) { $startInfo.ArgumentList.Add($argument) }
    foreach ($name in $Environment.Keys) { $startInfo.Environment[$name] = $Environment[$name] }
    $startInfo.UseShellExecute = $false
    $startInfo.RedirectStandardInput = $true
    $startInfo.RedirectStandardOutput = $true
    $process = [System.Diagnostics.Process]::Start($startInfo)
    try {
        $output = $process.StandardOutput.ReadToEndAsync()
        if ($InputText) { $process.StandardInput.Write($InputText) }
        $process.StandardInput.Close()
        if (-not $process.WaitForExit($TimeoutSeconds * 1000)) {
            $process.Kill($true)
            throw "$FilePath did not finish within $TimeoutSeconds s"
        }
        if ($process.ExitCode -ne 0) { throw "$FilePath exited with $($process.ExitCode)" }
        $output.GetAwaiter().GetResult()
    }
    finally { $process.Dispose() }
}

function Invoke-PwshScript {
    # Runs a script file in a fresh pwsh; answers the JSON of its last line.
    param([string] $Path, [string[]] $Arguments = @(), [string] $InputText, [hashtable] $Environment = @{})
    $exe = [Environment]::ProcessPath
    $prefix = @()
    if ((Split-Path $exe -Leaf) -in 'dotnet', 'dotnet.exe') { $prefix = @([Environment]::GetCommandLineArgs()[0]) }
    $text = Invoke-Child -FilePath $exe -Arguments (@($prefix) + @('-NoProfile', '-NonInteractive', '-File', $Path) + $Arguments) `
        -InputText $InputText -Environment $Environment
    $last = ($text -split "`n" | Where-Object { $_.Trim() }) | Select-Object -Last 1
    $last | ConvertFrom-Json
}

function New-PrivateFile {
    # Writes text to a new file only its owner can read (0600).
    param([string] $Path, [string] $Text)
    $options = [System.IO.FileStreamOptions]::new()
    $options.Mode = [System.IO.FileMode]::CreateNew
    $options.Access = [System.IO.FileAccess]::Write
    $options.UnixCreateMode = [System.IO.UnixFileMode]'UserRead, UserWrite'
    $writer = [System.IO.StreamWriter]::new($Path, [System.Text.UTF8Encoding]::new($false), $options)
    try { $writer.Write($Text) } finally { $writer.Dispose() }
}

$work = [System.IO.Directory]::CreateTempSubdirectory('exchangemfa-bench-').FullName
$emulator = $null
try {
    $emulator = Start-TestEmulator -Mailboxes $Mailboxes
    $tenant = $emulator.Domain
    "emulator: $Mailboxes mailboxes at $($emulator.Url); pages of $PageSize; one run each, fresh processes"

    $idlePath = Join-Path $work 'idle.ps1'
    Set-Content -Path $idlePath -Value $idleScript.Replace('#PEAK#', $peakFunction)
    $idle = Invoke-PwshScript -Path $idlePath

    # (a) ExchangeMfa
    $exchangeMfaPath = Join-Path $work 'exchangemfa.ps1'
    Set-Content -Path $exchangeMfaPath -Value $exchangeMfaScript.Replace('#PEAK#', $peakFunction)
    $ours = Invoke-PwshScript -Path $exchangeMfaPath -Arguments @($root, $emulator.Authority, $emulator.Url)

    # (b) Invoke-RestMethod, trusting the emulator's CA only
    $restMethodPath = Join-Path $work 'restmethod.ps1'
    Set-Content -Path $restMethodPath -Value $restMethodScript.Replace('#PEAK#', $peakFunction)
    $rest = Invoke-PwshScript -Path $restMethodPath -InputText $benchPassword `
        -Arguments @($emulator.Url, $tenant, $benchUser, $publicClientId, $exchangeScope, $PageSize) `
        -Environment @{ SSL_CERT_FILE = $emulator.CaFile }

    # (c) curl: a token from the same grant (form body on stdin), then the
    # pages (the links the loop above followed; skip tokens are positions)
    # in one curl process, one connection, to /dev/null.
    $form = 'grant_type=password&client_id={0}&scope={1}&username={2}&password={3}' -f $publicClientId,
        [uri]::EscapeDataString($exchangeScope), [uri]::EscapeDataString($benchUser), [uri]::EscapeDataString($benchPassword)
    $answer = Invoke-Child -FilePath curl -InputText $form -Arguments @('-sS', '--fail', '--cacert', $emulator.CaFile,
        '--data-binary', '@-', "$($emulator.Url)/$tenant/oauth2/v2.0/token")
    $form = $null
    $headerPath = Join-Path $work 'authorization.header'
    New-PrivateFile -Path $headerPath -Text ("Authorization: Bearer {0}`n" -f ($answer.Trim() | ConvertFrom-Json).access_token)
    $answer = $null
    $bodyPath = Join-Path $work 'body.json'
    Set-Content -Path $bodyPath -NoNewline -Value '{"CmdletInput":{"CmdletName":"Get-Mailbox","Parameters":{"ResultSize":"Unlimited"}}}'
    $configPath = Join-Path $work 'pages.curlrc'
    Set-Content -Path $configPath -Value ($rest.links | ForEach-Object { "url = `"$_`"`noutput = `"/dev/null`"" })
    $timePath = Join-Path $work 'curl.time'
    try {
        $transfers = Invoke-Child -FilePath /usr/bin/time -Arguments @('-f', '%e %M', '-o', $timePath,
            'curl', '-sS', '--fail', '--compressed', '--cacert', $emulator.CaFile, '-H', "@$headerPath",
            '-H', 'Content-Type: application/json', '-H', "Prefer: odata.maxpagesize=$PageSize",
            '--data-binary', "@$bodyPath", '-w', '%{http_code} %{size_download}\n', '-K', $configPath)
    }
    finally { Remove-Item -LiteralPath $headerPath -Force -ErrorAction Ignore }
    $lines = @($transfers -split "`n" | Where-Object { $_.Trim() })
    $okPages = @($lines | Where-Object { $_ -like '200 *' }).Count
    $bytes = ($lines | ForEach-Object { [int64]($_ -split ' ')[1] } | Measure-Object -Sum).Sum
    $elapsed, $maxKb = (Get-Content $timePath -Raw).Trim() -split ' '
    $curl = [pscustomobject]@{ objects = $rest.objects; seconds = [double]$elapsed; peakMB = [math]::Round([int64]$maxKb / 1024, 1) }

    $rows = @(
        [pscustomobject]@{ Client = 'ExchangeMfa (pwsh + helper)'; Objects = $ours.objects; Seconds = $ours.seconds
            PeakMB = "pwsh $($ours.pwshMB), helper $($ours.helperMB)" }
        [pscustomobject]@{ Client = 'Invoke-RestMethod loop (pwsh)'; Objects = $rest.objects; Seconds = $rest.seconds
            PeakMB = "pwsh $($rest.pwshMB)" }
        [pscustomobject]@{ Client = 'curl to /dev/null (floor)'; Objects = $curl.objects; Seconds = $curl.seconds
            PeakMB = "curl $($curl.peakMB)" }
    )
    $floorRate = $curl.objects / $curl.seconds
    $rows | ForEach-Object {
        $rate = $_.Objects / $_.Seconds
        [pscustomobject]@{ Client = $_.Client; Objects = $_.Objects; Seconds = '{0:N2}' -f $_.Seconds
            'Objects/s' = '{0:N0}' -f $rate; 'Share of curl' = '{0:P0}' -f ($rate / $floorRate); 'Peak memory (MB)' = $_.PeakMB }
    } | Format-Table -AutoSize | Out-String -Width 200
    'curl: {0} of {1} pages answered 200, {2:N1} MB on the wire (gzip)' -f $okPages, $rest.pages, ($bytes / 1MB)
    'throughput ratio ExchangeMfa : Invoke-RestMethod : curl = {0:N2} : {1:N2} : 1' -f `
        (($ours.objects / $ours.seconds) / $floorRate), (($rest.objects / $rest.seconds) / $floorRate)
    'ExchangeMfa is {0:N1} times the Invoke-RestMethod loop; an idle pwsh peaks at {1} MB (the baseline in both pwsh figures)' -f `
        (($ours.objects / $ours.seconds) / ($rest.objects / $rest.seconds)), $idle.pwshMB
}
finally {
    if ($emulator) { Stop-TestEmulator }
    Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction Ignore
}
