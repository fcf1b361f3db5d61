# Streaming figures (issues 5 and 12): prints them, asserts nothing. Reads
# the emulator's mailboxes in pages of 1000, each client in a fresh process
# (so peak memories are separate), the clients interleaved in every
# repetition so the machine's load falls on all alike; ratios are taken
# within a repetition and shown as min/median/max over the repetitions.
#
#   ExchangeMfa         Get-Mailbox -ResultSize N | Measure-Object
#                       (pwsh + helper; the sign-in is not timed)
#   Invoke-RestMethod   a hand-written paging loop in pwsh following
#                       @odata.nextLink, counting objects (the token from
#                       the password grant of user@contoso, not timed)
#   curl                the same pages fetched by one curl process to
#                       /dev/null (the floor: no JSON parsing at all)
#
# Two kinds of server: "as is" (the emulator makes every page's objects as
# it writes them, compressed when asked) and "instant" (config fastPages:
# pages serialized once, answered in one write, so the clients are what is
# measured). Instant runs go over several N for the plot of objects/s and
# peak memory against N; as-is runs use the largest N.
#
# TLS verification stays on everywhere: the helper trusts the emulator's CA
# through EXCHANGEMFA_CA_FILE, Invoke-RestMethod through SSL_CERT_FILE (.NET
# on Linux reads its root store from there), curl through --cacert.
# Secrets never reach argv or a child's environment: the test password goes
# to the child's stdin, curl reads the bearer from a 0600 header file that
# is deleted afterwards.
#
#   pwsh -NoProfile -File bench/exchange.ps1 [-Runs 3] [-Sizes 25000,50000,100000] [-Plot docs/benchmarks-stream.png]
param(
    [int] $Runs = 3,
    [int[]] $Sizes = @(25000, 50000, 100000),
    [string] $Plot = (Join-Path (Split-Path $PSScriptRoot -Parent) 'docs/benchmarks-stream.png')
)

$ErrorActionPreference = 'Stop'
$root = Split-Path $PSScriptRoot -Parent
Import-Module (Join-Path $root 'tests/pester/TestSupport.psm1')
Import-Module (Join-Path $PSScriptRoot 'BenchSupport.psm1')
$Sizes = @($Sizes | Sort-Object)
$largest = $Sizes[-1]

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
param($Root, $Authority, $Url, [long] $ResultSize)
#PEAK#
$ErrorActionPreference = 'Stop'
Import-Module "$Root/ExchangeMfa.psd1"
$null = Connect-ExchangeMfa -UserPrincipalName admin@contoso.onmicrosoft.com -Device -ShowBanner:$false `
    -InMemoryTokenCache -AzureADAuthorizationEndpointUri $Authority -ConnectionUri $Url 6>$null
$helperId = [ExchangeMfa.Helper]::Current.Process.Id
$clock = [System.Diagnostics.Stopwatch]::StartNew()
$count = (Get-Mailbox -ResultSize $ResultSize | Measure-Object).Count
$seconds = $clock.Elapsed.TotalSeconds
$result = [pscustomobject]@{ objects = $count; seconds = $seconds
    pwshMB = Get-PeakMemoryMB $PID; helperMB = Get-PeakMemoryMB $helperId }
Disconnect-ExchangeMfa -Confirm:$false
$result | ConvertTo-Json -Compress
'@

$restMethodScript = @'
param($Url, $Tenant, $User, $ClientId, $Scope, [long] $ResultSize)
#PEAK#
$ErrorActionPreference = 'Stop'
$password = [Console]::In.ReadLine()
$grant = @{ grant_type = 'password'; client_id = $ClientId; scope = $Scope; username = $User; password = $password }
$token = (Invoke-RestMethod -Method Post -Uri "$Url/$Tenant/oauth2/v2.0/token" -Body $grant).access_token
$grant = $null
$password = $null
$headers = @{ Authorization = "Bearer $token"; Prefer = 'odata.maxpagesize=1000' }
$body = '{"CmdletInput":{"CmdletName":"Get-Mailbox","Parameters":{"ResultSize":' + $ResultSize + '}}}'
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
[pscustomobject]@{ objects = $count; seconds = $seconds; body = $body; links = $links; pwshMB = Get-PeakMemoryMB $PID } |
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

function Get-Median([double[]] $Values) {
    $sorted = $Values | Sort-Object
    $sorted[[int][math]::Floor($sorted.Count / 2)]
}

$work = [System.IO.Directory]::CreateTempSubdirectory('exchangemfa-bench-').FullName
$emulator = $null
try {
    $emulator = Start-TestEmulator -Mailboxes $largest
    $tenant = $emulator.Domain
    "emulator: $largest mailboxes at $($emulator.Url); pages of 1000; $Runs repetitions, clients interleaved, fresh processes"

    $idlePath = Join-Path $work 'idle.ps1'
    Set-Content -Path $idlePath -Value $idleScript.Replace('#PEAK#', $peakFunction)
    $exchangeMfaPath = Join-Path $work 'exchangemfa.ps1'
    Set-Content -Path $exchangeMfaPath -Value $exchangeMfaScript.Replace('#PEAK#', $peakFunction)
    $restMethodPath = Join-Path $work 'restmethod.ps1'
    Set-Content -Path $restMethodPath -Value $restMethodScript.Replace('#PEAK#', $peakFunction)

    function Invoke-Ours([long] $Size) {
        Invoke-PwshScript -Path $exchangeMfaPath -Arguments @($root, $emulator.Authority, $emulator.Url, $Size)
    }
    function Invoke-RestLoop([long] $Size) {
        Invoke-PwshScript -Path $restMethodPath -InputText $benchPassword `
            -Arguments @($emulator.Url, $tenant, $benchUser, $publicClientId, $exchangeScope, $Size) `
            -Environment @{ SSL_CERT_FILE = $emulator.CaFile }
    }

    # curl: a token from the same grant (form body on stdin) in a 0600
    # header file, then the pages a loop run followed (skip tokens are
    # positions), in one curl process, one connection, to /dev/null.
    $form = 'grant_type=password&client_id={0}&scope={1}&username={2}&password={3}' -f $publicClientId,
        [uri]::EscapeDataString($exchangeScope), [uri]::EscapeDataString($benchUser), [uri]::EscapeDataString($benchPassword)
    $answer = Invoke-Child -FilePath curl -InputText $form -Arguments @('-sS', '--fail', '--cacert', $emulator.CaFile,
        '--data-binary', '@-', "$($emulator.Url)/$tenant/oauth2/v2.0/token")
    $form = $null
    $headerPath = Join-Path $work 'authorization.header'
    New-PrivateFile -Path $headerPath -Text ("Authorization: Bearer {0}`n" -f ($answer.Trim() | ConvertFrom-Json).access_token)
    $answer = $null
    function Invoke-Curl($LoopRun) {
        $bodyPath = Join-Path $work 'body.json'
        Set-Content -Path $bodyPath -NoNewline -Value $LoopRun.body
        $configPath = Join-Path $work 'pages.curlrc'
        Set-Content -Path $configPath -Value ($LoopRun.links | ForEach-Object { "url = `"$_`"`noutput = `"/dev/null`"" })
        $timePath = Join-Path $work 'curl.time'
        $transfers = Invoke-Child -FilePath /usr/bin/time -Arguments @('-f', '%e %M', '-o', $timePath,
            'curl', '-sS', '--fail', '--compressed', '--cacert', $emulator.CaFile, '-H', "@$headerPath",
            '-H', 'Content-Type: application/json', '-H', 'Prefer: odata.maxpagesize=1000',
            '--data-binary', "@$bodyPath", '-w', '%{http_code}\n', '-K', $configPath)
        $okPages = @($transfers -split "`n" | Where-Object { $_ -eq '200' }).Count
        if ($okPages -ne $LoopRun.links.Count) { throw "curl: $okPages of $($LoopRun.links.Count) pages answered 200" }
        $elapsed, $maxKb = (Get-Content $timePath -Raw).Trim() -split ' '
        [pscustomobject]@{ objects = $LoopRun.objects; seconds = [double]$elapsed; peakMB = [math]::Round([int64]$maxKb / 1024, 1) }
    }

    $idle = Invoke-PwshScript -Path $idlePath
    # Instant pages are made on first use: one untimed pass fills the cache.
    Set-EmulatorConfig @{ fastPages = $true } | Out-Null
    $null = Invoke-RestLoop $largest

    $rows = [System.Collections.Generic.List[object]]::new()
    function Add-Row($Run, $Server, $Client, $Size, $Result, $PeakMB) {
        $rows.Add([pscustomobject]@{ Run = $Run; Server = $Server; Client = $Client; N = $Size
                Rate = $Result.objects / $Result.seconds; Objects = $Result.objects; PeakMB = $PeakMB })
    }
    try {
        foreach ($run in 1..$Runs) {
            Set-EmulatorConfig @{ fastPages = $true } | Out-Null
            foreach ($size in $Sizes) {
                $ours = Invoke-Ours $size
                Add-Row $run instant ExchangeMfa $size $ours $ours.pwshMB
                Add-Row $run instant 'ExchangeMfa helper' $size $ours $ours.helperMB
                $rest = Invoke-RestLoop $size
                Add-Row $run instant Invoke-RestMethod $size $rest $rest.pwshMB
                if ($size -eq $largest) { $curl = Invoke-Curl $rest; Add-Row $run instant curl $size $curl $curl.peakMB }
            }
            Set-EmulatorConfig @{ fastPages = $false } | Out-Null
            $ours = Invoke-Ours $largest
            Add-Row $run 'as is' ExchangeMfa $largest $ours $ours.pwshMB
            Add-Row $run 'as is' 'ExchangeMfa helper' $largest $ours $ours.helperMB
            $rest = Invoke-RestLoop $largest
            Add-Row $run 'as is' Invoke-RestMethod $largest $rest $rest.pwshMB
            $curl = Invoke-Curl $rest
            Add-Row $run 'as is' curl $largest $curl $curl.peakMB
        }
    }
    finally { Remove-Item -LiteralPath $headerPath -Force -ErrorAction Ignore }

    foreach ($row in $rows) { if ($row.Objects -ne $row.N) { throw "$($row.Client) read $($row.Objects) objects, not $($row.N)" } }
    "idle pwsh peaks at $($idle.pwshMB) MB (part of every pwsh figure)"
    ''
    $rows | Group-Object Server, Client, N | ForEach-Object {
        $first = $_.Group[0]
        $name = "$($first.Server) server, $($first.Client), N=$($first.N)"
        if ($first.Client -ne 'ExchangeMfa helper') { Format-Figure "$name objects/s" $_.Group.Rate 'objects/s' }
        Format-Figure "$name peak memory" $_.Group.PeakMB 'MB'
    }
    ''
    function Get-Ratio($Server, $Client, $Peer, $Size) {
        foreach ($run in 1..$Runs) {
            $mine = $rows | Where-Object { $_.Run -eq $run -and $_.Server -eq $Server -and $_.Client -eq $Client -and $_.N -eq $Size }
            $theirs = $rows | Where-Object { $_.Run -eq $run -and $_.Server -eq $Server -and $_.Client -eq $Peer -and $_.N -eq $Size }
            $mine.Rate / $theirs.Rate
        }
    }
    Format-Figure "goal >= 3: instant server, ExchangeMfa / Invoke-RestMethod loop objects/s, N=$largest" (Get-Ratio instant ExchangeMfa Invoke-RestMethod $largest) 'x'
    Format-Figure "goal >= 0.5: as-is server, ExchangeMfa / curl objects/s, N=$largest" (Get-Ratio 'as is' ExchangeMfa curl $largest) 'x'
    Format-Figure "as-is server, Invoke-RestMethod loop / curl objects/s, N=$largest" (Get-Ratio 'as is' Invoke-RestMethod curl $largest) 'x'
    Format-Figure "instant server, ExchangeMfa / curl objects/s, N=$largest" (Get-Ratio instant ExchangeMfa curl $largest) 'x'

    if ($Plot) {
        $series = foreach ($client in 'ExchangeMfa', 'Invoke-RestMethod', 'ExchangeMfa helper') {
            [pscustomobject]@{
                Client = $client
                # The helper's rate is ExchangeMfa's: only its memory is drawn.
                Rate   = if ($client -ne 'ExchangeMfa helper') { @(foreach ($size in $Sizes) { Get-Median ($rows | Where-Object { $_.Server -eq 'instant' -and $_.Client -eq $client -and $_.N -eq $size }).Rate }) }
                Memory = @(foreach ($size in $Sizes) { Get-Median ($rows | Where-Object { $_.Server -eq 'instant' -and $_.Client -eq $client -and $_.N -eq $size }).PeakMB })
            }
        }
        $written = Write-StreamPlot -Path $Plot -Sizes $Sizes -Series $series -Runs $Runs
        "plot: $written"
    }
}
finally {
    if ($emulator) { Stop-TestEmulator }
    Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction Ignore
}
