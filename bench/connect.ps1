# Connect figures (issues 9 and 12): prints them, asserts nothing. Every run
# is a new pwsh, timed from outside; the kinds of run are interleaved in each
# repetition so the machine's load falls on all alike, and ratios are taken
# within a repetition (min/median/max over the repetitions).
#
#   bare      pwsh -NoProfile -c exit: the floor every other figure includes
#   empty     ... + Import-Module of an empty manifest module (a .psd1 and an
#             empty .psm1, made here): what any script module pays for
#             Import-Module itself
#   binary    ... + Import-Module of a minimal binary module (a .psd1 and a
#             DLL with one empty cmdlet, compiled here with Add-Type): what
#             any binary module pays, the floor under `import` (ExchangeMfa
#             is one: docs/decisions.md, "Compiled commands")
#   import    ... + Import-Module ExchangeMfa
#   connect   ... + Connect-ExchangeMfa from a valid cached token (no sign-in
#             on the network), the whole catalogue of commands available;
#             it loads the module's views (docs/module.md, Formatting)
#   noviews   the same with -SkipLoadingFormatData: what the views cost
#   call      ... + the first Get-Mailbox -ResultSize 1 (autoload of its
#             command group, then the call)
#   prefix    ... + Connect -Prefix Contoso (aliases for the whole catalogue)
#   inside    the connect child with stopwatches: Import-Module and
#             Connect-ExchangeMfa alone, and the managed memory the module
#             keeps (GC.GetTotalMemory(true) after minus before the import).
#             Its own work (two full collections, ConvertTo-Json for its
#             figures) makes it slower than `connect`: no ratio is taken.
#
# -Baseline <another copy's ExchangeMfa.psd1> (a built checkout of an
# earlier commit) adds its import, connect and call children to the same
# repetitions: a change measured against what it replaced in one run.
#
#   pwsh -NoProfile -File bench/connect.ps1 [-Runs 7] [-Baseline path/ExchangeMfa.psd1]
param(
    [int] $Runs = 7,
    [string] $Baseline,
    [switch] $SharedJitProfile
)

$ErrorActionPreference = 'Stop'
$root = Split-Path $PSScriptRoot -Parent
Import-Module (Join-Path $root 'tests/pester/TestSupport.psm1')
Import-Module (Join-Path $PSScriptRoot 'BenchSupport.psm1')

# GNU time (./build.sh bench installs it): the child's CPU time, user +
# system, all its threads. Wall time is what the goals name; CPU time moves
# far less when other work shares the machine, so both are printed.
$savedCacheHome = $env:XDG_CACHE_HOME
$timeTool = Get-Command /usr/bin/time -CommandType Application -ErrorAction Ignore
$cpuFile = New-TemporaryFile

function Measure-Child([string] $Command, [string] $CacheHome) {
    # Wall time of a new pwsh running $Command, its CPU time, its last JSON line.
    # $CacheHome: the child's XDG_CACHE_HOME (below).
    $env:XDG_CACHE_HOME = $CacheHome
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    if ($timeTool) {
        # Invoke-ChildPwsh's command line, under GNU time.
        $exe = [Environment]::ProcessPath
        $prefix = @()
        if ((Split-Path $exe -Leaf) -in 'dotnet', 'dotnet.exe') { $prefix = @([Environment]::GetCommandLineArgs()[0]) }
        $encoded = [Convert]::ToBase64String([Text.Encoding]::Unicode.GetBytes($Command))
        $output = & $timeTool -f '%U %S' -o $cpuFile $exe @prefix -NoProfile -NonInteractive -EncodedCommand $encoded
    }
    else { $output = Invoke-ChildPwsh -Command $Command }
    $elapsed = $watch.Elapsed.TotalMilliseconds
    $cpu = if ($timeTool) { (([System.IO.File]::ReadAllText($cpuFile).Trim() -split ' ') | ForEach-Object { [double]::Parse($_, [cultureinfo]::InvariantCulture) } | Measure-Object -Sum).Sum * 1000 }
    $line = $output | Where-Object { "$_" -like '{*' } | Select-Object -Last 1
    [pscustomobject]@{ Ms = $elapsed; CpuMs = $cpu; Inside = if ($line) { $line | ConvertFrom-Json } }
}

# Start-TestEmulator points EXCHANGEMFA_CACHE_DIR into its own folder; the
# children inherit it, and the CA file.
$emulator = Start-TestEmulator -Mailboxes 50
try {
    $upn = 'admin@contoso.onmicrosoft.com'
    $manifest = Join-Path $root 'ExchangeMfa.psd1'
    $empty = New-Item -ItemType Directory -Path (Join-Path $emulator.Dir 'EmptyModule') -Force
    Set-Content (Join-Path $empty 'EmptyModule.psm1') ''
    Set-Content (Join-Path $empty 'EmptyModule.psd1') "@{ RootModule = 'EmptyModule.psm1'; ModuleVersion = '1.0.0'; GUID = '$([guid]::NewGuid())'; FunctionsToExport = @(); CmdletsToExport = @(); VariablesToExport = @(); AliasesToExport = @() }"
    $binary = New-Item -ItemType Directory -Path (Join-Path $emulator.Dir 'BinaryModule') -Force
    Add-Type -OutputAssembly (Join-Path $binary 'BinaryModule.dll') -TypeDefinition @'
[System.Management.Automation.Cmdlet("Get", "BenchNothing")]
public sealed class GetBenchNothingCommand : System.Management.Automation.PSCmdlet { }
'@
    Set-Content (Join-Path $binary 'BinaryModule.psd1') "@{ RootModule = 'BinaryModule.dll'; ModuleVersion = '1.0.0'; GUID = '$([guid]::NewGuid())'; FunctionsToExport = @(); CmdletsToExport = @('Get-BenchNothing'); VariablesToExport = @(); AliasesToExport = @() }"
    $connectLine = "Connect-ExchangeMfa -UserPrincipalName $upn -ShowBanner:`$false -AzureADAuthorizationEndpointUri '$($emulator.Authority)' -ConnectionUri '$($emulator.Url)' 6>`$null"
    $children = [ordered]@{
        bare    = 'exit'
        empty   = "Import-Module '$(Join-Path $empty 'EmptyModule.psd1')'"
        binary  = "Import-Module '$(Join-Path $binary 'BinaryModule.psd1')'"
        import  = "Import-Module '$manifest'"
        connect = "`$env:BROWSER = '/bin/false'; Import-Module '$manifest'; `$null = $connectLine"
        noviews = "`$env:BROWSER = '/bin/false'; Import-Module '$manifest'; `$null = $connectLine -SkipLoadingFormatData"
        call    = "`$env:BROWSER = '/bin/false'; Import-Module '$manifest'; `$null = $connectLine; `$null = Get-Mailbox -ResultSize 1 -WarningAction SilentlyContinue"
        prefix  = "`$env:BROWSER = '/bin/false'; Import-Module '$manifest'; `$null = $connectLine -Prefix Contoso"
        inside  = @"
`$env:BROWSER = '/bin/false'
`$before = [System.GC]::GetTotalMemory(`$true)
`$watch = [System.Diagnostics.Stopwatch]::StartNew()
Import-Module '$manifest'
`$import = `$watch.Elapsed.TotalMilliseconds
`$watch.Restart()
`$c = $connectLine
`$connect = `$watch.Elapsed.TotalMilliseconds
`$after = [System.GC]::GetTotalMemory(`$true)
[pscustomobject]@{ Mode = `$c.SignInMode; ImportMs = `$import; ConnectMs = `$connect; RetainedMB = (`$after - `$before) / 1MB } | ConvertTo-Json -Compress
"@
    }
    if ($Baseline) {
        $Baseline = (Resolve-Path -LiteralPath $Baseline).Path
        $children['import (baseline)'] = "Import-Module '$Baseline'"
        $children['connect (baseline)'] = "`$env:BROWSER = '/bin/false'; Import-Module '$Baseline'; `$null = $connectLine"
        $children['call (baseline)'] = "`$env:BROWSER = '/bin/false'; Import-Module '$Baseline'; `$null = $connectLine; `$null = Get-Mailbox -ResultSize 1 -WarningAction SilentlyContinue"
    }

    # A first, interactive-free sign-in fills the cache.
    Import-Module $manifest
    $null = Connect-ExchangeMfa -UserPrincipalName $upn -Device -AzureADAuthorizationEndpointUri $emulator.Authority -ConnectionUri $emulator.Url -ShowBanner:$false 6>$null
    Disconnect-ExchangeMfa -Confirm:$false
    Remove-Module ExchangeMfa
    $before = (Get-EmulatorStats).tokenRequests

    # pwsh keeps a profile of the methods it compiled (.NET's multicore JIT,
    # StartupProfileData-NonInteractive in $XDG_CACHE_HOME/powershell) and
    # compiles those ahead on a second core at its next start. Interleaved
    # kinds sharing one profile would each start with the previous kind's
    # (the bare pwsh with the connect child's): each kind has its own, the
    # steady state of a script run again and again. Once each first, so every
    # timed run has one. -SharedJitProfile: one for all, as before.
    $cacheHomes = @{}
    foreach ($name in $children.Keys) {
        $cacheHomes[$name] = if ($SharedJitProfile) { $savedCacheHome } else { (New-Item -ItemType Directory -Force -Path (Join-Path $emulator.Dir "cache-$($name -replace '\W', '-')")).FullName }
        if (-not $SharedJitProfile) { $null = Measure-Child $children[$name] $cacheHomes[$name] }
    }
    $results = @{}
    foreach ($name in $children.Keys) { $results[$name] = [System.Collections.Generic.List[object]]::new() }
    foreach ($run in 1..$Runs) {
        foreach ($name in $children.Keys) { $results[$name].Add((Measure-Child $children[$name] $cacheHomes[$name])) }
    }
    $after = (Get-EmulatorStats).tokenRequests

    $count = @(Get-Content (Join-Path $root 'module/Commands/CommandNames.txt')).Count
    "$count catalogue commands; $Runs repetitions, interleaved"
    foreach ($name in $children.Keys) { Format-Figure "$name (new pwsh, from outside)" $results[$name].Ms }
    Format-Figure 'Import-Module alone (stopwatch in the inside child)' $results.inside.Inside.ImportMs
    Format-Figure 'Connect-ExchangeMfa alone (stopwatch in the inside child)' $results.inside.Inside.ConnectMs
    Format-Figure 'retained managed memory after Connect' $results.inside.Inside.RetainedMB 'MB'
    "sign-in modes: $(($results.inside.Inside.Mode | Sort-Object -Unique) -join ',')"
    "token requests during the runs: $((($after.PSObject.Properties.Value | Measure-Object -Sum).Sum) - (($before.PSObject.Properties.Value | Measure-Object -Sum).Sum))"
    $compared = @($children.Keys | Where-Object { $_ -notin 'bare', 'inside' })
    foreach ($name in $compared) {
        $ratios = for ($i = 0; $i -lt $Runs; $i++) { $results[$name][$i].Ms / $results.bare[$i].Ms }
        $goal = switch ($name) { 'import' { ' (goal <= 1.2)' } 'connect' { ' (goal <= 1.5)' } default { '' } }
        Format-Figure "ratio $name / bare$goal" $ratios 'x'
    }
    if ($timeTool) {
        foreach ($name in $children.Keys) { Format-Figure "$name, CPU time of the child (user + system)" $results[$name].CpuMs }
        foreach ($name in $compared) {
            $ratios = for ($i = 0; $i -lt $Runs; $i++) { $results[$name][$i].CpuMs / $results.bare[$i].CpuMs }
            Format-Figure "ratio $name / bare, CPU time" $ratios 'x'
        }
    }
}
finally {
    $env:XDG_CACHE_HOME = $savedCacheHome
    Remove-Item -LiteralPath $cpuFile -ErrorAction Ignore
    Stop-TestEmulator
}
