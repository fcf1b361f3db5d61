# The package as an administrator gets it (docs/package.md): the .nupkg of
# `./build.sh package` is published to a fresh file repository, installed
# with Install-PSResource into a fresh module path, and the demo runs from
# the installed copy, in child processes whose HOME is a temporary folder,
# whose PATH holds no compiler, and whose PSModulePath holds only the
# install location (not this repository's module/).

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    $script:root = Get-RepoRoot
    $script:nupkg = Get-ChildItem (Join-Path $script:root 'build/package/repo') -Filter 'ExchangeMfa.*.nupkg' -ErrorAction Ignore |
        Select-Object -First 1
    if (-not $script:nupkg) { throw 'No package in build/package/repo: run ./build.sh package first.' }
    $script:emulator = Start-TestEmulator -Mailboxes 50

    $script:sandbox = Join-Path ([System.IO.Path]::GetTempPath()) "exchangemfa-package-$([guid]::NewGuid().ToString('n').Substring(0, 12))"
    $script:userHome = Join-Path $script:sandbox 'home'
    $script:emptyPath = Join-Path $script:sandbox 'bin'
    # ~/.local/share exists in a real home: .NET answers "" for a missing one.
    New-Item -ItemType Directory -Path (Join-Path $script:userHome '.local/share'), $script:emptyPath,
        (Join-Path $script:sandbox 'repo') | Out-Null
    # Where Install-PSResource -Scope CurrentUser puts modules on Linux and macOS.
    $script:modulePath = Join-Path $script:userHome '.local/share/powershell/Modules'

    function Invoke-SandboxPwsh {
        # Runs a script in a child pwsh with only the environment an
        # administrator's fresh session would have; returns the object the
        # script writes as its last line of JSON, and the whole output.
        param([Parameter(Mandatory)] [string] $Script)
        $exe = [Environment]::ProcessPath
        $info = [System.Diagnostics.ProcessStartInfo]::new($exe)
        if ((Split-Path $exe -Leaf) -in 'dotnet', 'dotnet.exe') { $info.ArgumentList.Add([Environment]::GetCommandLineArgs()[0]) }
        foreach ($argument in '-NoProfile', '-NonInteractive', '-EncodedCommand',
            [Convert]::ToBase64String([Text.Encoding]::Unicode.GetBytes($Script))) { $info.ArgumentList.Add($argument) }
        $info.Environment.Clear()
        $info.Environment['HOME'] = $script:userHome
        $info.Environment['PATH'] = $script:emptyPath
        $info.Environment['PSModulePath'] = $script:modulePath
        $info.Environment['EXCHANGEMFA_CA_FILE'] = $script:emulator.CaFile
        foreach ($name in 'DOTNET_ROOT', 'LANG', 'TMPDIR') {
            if ([Environment]::GetEnvironmentVariable($name)) { $info.Environment[$name] = [Environment]::GetEnvironmentVariable($name) }
        }
        $info.WorkingDirectory = $script:sandbox
        $info.UseShellExecute = $false
        $info.RedirectStandardOutput = $true
        $info.RedirectStandardError = $true
        $process = [System.Diagnostics.Process]::Start($info)
        $errors = $process.StandardError.ReadToEndAsync()
        $output = $process.StandardOutput.ReadToEnd()
        if (-not $process.WaitForExit(180000)) { $process.Kill($true); throw "the child pwsh did not finish: $output" }
        $lines = @($output -split "`n" | Where-Object { $_.Trim() })
        $json = $lines | Where-Object { $_.StartsWith('{') } | Select-Object -Last 1
        if (-not $json) { throw "the child pwsh wrote no result (exit code $($process.ExitCode)): $output $($errors.Result)" }
        $json | ConvertFrom-Json
    }

    # Publish and install once, as an administrator would.
    $script:installed = Invoke-SandboxPwsh @"
`$ErrorActionPreference = 'Stop'
Register-PSResourceRepository -Name ExchangeMfaLocal -Uri '$(Join-Path $script:sandbox 'repo')' -Trusted
Publish-PSResource -NupkgPath '$($script:nupkg.FullName)' -Repository ExchangeMfaLocal
Install-PSResource -Name ExchangeMfa -Repository ExchangeMfaLocal -TrustRepository -Scope CurrentUser
`$module = Get-InstalledPSResource -Name ExchangeMfa
@{ Version = `$module.Version.ToString(); Location = `$module.InstalledLocation } | ConvertTo-Json -Compress
"@
    $script:moduleBase = Join-Path $script:installed.Location "ExchangeMfa/$($script:installed.Version)"
}

AfterAll {
    Stop-TestEmulator
    Remove-Item -LiteralPath $script:sandbox -Recurse -Force -ErrorAction Ignore
    Remove-Module TestSupport -ErrorAction Ignore
}

Describe 'The package' {
    It 'installs into the fresh module path with the manifest, help, commands, types and helpers' {
        $script:installed.Location | Should -Be $script:modulePath
        foreach ($file in 'ExchangeMfa.psd1', 'en-US/about_ExchangeMfa.help.txt', 'en-US/ExchangeMfa.Types.dll-Help.xml', 'module/Bundle/ExchangeMfa.Runtime.ps1',
            'module/Commands/CommandNames.txt', 'module/bin/ExchangeMfa.Types.dll', 'module/bin/linux-x64/exchangemfa-helper',
            'module/Views/ExchangeMfa.Views.psd1', 'module/Views/ExchangeMfa.format.ps1xml') {
            Join-Path $script:moduleBase $file | Should -Exist
        }
        # The generated runtime and nothing else: no sources, no leftovers of older builds.
        @(Get-ChildItem (Join-Path $script:moduleBase 'module/Bundle')).Name | Should -Be @('ExchangeMfa.Runtime.ps1')
        Join-Path $script:moduleBase 'module/Private' | Should -Not -Exist
    }

    It 'ships the win-x64 helper, a Windows executable' {
        $helper = Join-Path $script:moduleBase 'module/bin/win-x64/exchangemfa-helper.exe'
        $helper | Should -Exist
        # A PE file: "MZ", then "PE\0\0" at the offset stored at 0x3C, machine x64 (0x8664).
        $bytes = [System.IO.File]::ReadAllBytes($helper)
        [System.Text.Encoding]::ASCII.GetString($bytes, 0, 2) | Should -Be 'MZ'
        $pe = [System.BitConverter]::ToInt32($bytes, 0x3C)
        [System.Text.Encoding]::ASCII.GetString($bytes, $pe, 4) | Should -Be "PE`0`0"
        [System.BitConverter]::ToUInt16($bytes, $pe + 4) | Should -Be 0x8664
    }

    It 'has a Linux helper that needs only base-system libraries' {
        $helper = Join-Path $script:moduleBase 'module/bin/linux-x64/exchangemfa-helper'
        $libraries = @(& ldd $helper | ForEach-Object { ($_.Trim() -split '\s+')[0] })
        $LASTEXITCODE | Should -Be 0
        # glibc's own libraries and the kernel's vDSO, nothing of a -dev package.
        $libraries | Where-Object { $_ -notmatch '^(linux-vdso\.so\.1|/lib64/ld-linux-x86-64\.so\.2|lib(c|m|pthread|dl|rt)\.so\.\d+)$' } |
            Should -BeNullOrEmpty
    }

    It 'runs the demo from the installed copy, with no compiler and no repository in reach' {
        $result = Invoke-SandboxPwsh @"
`$ErrorActionPreference = 'Stop'
`$compilers = @(Get-Command cc, gcc, clang, cmake -ErrorAction Ignore).Count
Import-Module ExchangeMfa
`$module = Get-Module ExchangeMfa
`$null = Connect-ExchangeMfa -UserPrincipalName admin@contoso.onmicrosoft.com -Device -ShowBanner:`$false ``
    -AzureADAuthorizationEndpointUri '$($script:emulator.Authority)' -ConnectionUri '$($script:emulator.Url)'
`$helper = [ExchangeMfa.Helper]::Current.Path
`$views = (Get-Module ExchangeMfa.Views).ModuleBase
`$mailboxes = @(Get-Mailbox -ResultSize 5)
Disconnect-ExchangeMfa -Confirm:`$false
@{ Compilers = `$compilers; ModuleBase = `$module.ModuleBase; Helper = `$helper; Views = `$views
   Mailboxes = `$mailboxes.Count; First = `$mailboxes[0].PrimarySmtpAddress
   Repository = @(`$env:PSModulePath -split ':' | Where-Object { `$_ -like '$($script:root)*' }).Count } | ConvertTo-Json -Compress
"@
        $result.Compilers | Should -Be 0
        $result.Repository | Should -Be 0
        $result.ModuleBase | Should -Be $script:moduleBase
        $result.Helper | Should -Be (Join-Path $script:moduleBase 'module/bin/linux-x64/exchangemfa-helper')
        # Connect imported the installed copy's views.
        $result.Views | Should -Be (Join-Path $script:moduleBase 'module/Views')
        $result.Mailboxes | Should -Be 5
        $result.First | Should -Match '@'
        # The static libcurl has zlib (tools/windows/build-deps.sh): the page came gzip-compressed.
        $stats = Get-EmulatorStats
        $stats.pagesServed | Should -BeGreaterThan 0
        $stats.pagesServedGzip | Should -Be $stats.pagesServed
    }

    It 'answers Get-Help for an Exchange command and about_ExchangeMfa from the installed copy' {
        $result = Invoke-SandboxPwsh @"
Import-Module ExchangeMfa
`$help = Get-Help Get-EXOMailbox
@{ Name = `$help.Name; Synopsis = [string]`$help.Synopsis; Source = (Get-Command Get-EXOMailbox).Module.Path
   About = (Get-Help about_ExchangeMfa | Out-String) } | ConvertTo-Json -Compress
"@
        $result.Name | Should -Be 'Get-EXOMailbox'
        $result.Synopsis | Should -Not -BeNullOrEmpty
        $result.Source | Should -BeLike "$script:moduleBase*"
        $result.About | Should -Match 'TOKENS AND SECRETS'
    }

    It 'names the platform and what to do when it ships no helper for it' {
        Remove-Item -LiteralPath (Join-Path $script:moduleBase 'module/bin/linux-x64') -Recurse -Force
        $result = Invoke-SandboxPwsh @"
Import-Module ExchangeMfa
try { Connect-ExchangeMfa -UserPrincipalName admin@contoso.onmicrosoft.com -Device -ShowBanner:`$false; `$id = 'connected' }
catch { `$id = `$_.FullyQualifiedErrorId; `$message = `$_.Exception.Message }
@{ Id = `$id; Message = `$message } | ConvertTo-Json -Compress
"@
        $result.Id | Should -Be 'ExchangeMfa.HelperNotFound,ExchangeMfa.ConnectExchangeMfaCommand'
        $result.Message | Should -Match 'helper for linux-x64 was not found'
        $result.Message | Should -Match 'build one for linux-x64 from source'
    }
}

Describe 'A helper that cannot start' {
    BeforeAll {
        Import-Module (Join-Path $script:root 'ExchangeMfa.psd1') -Force -Global
        # What the dynamic loader does when a library is missing: a line on
        # stderr and exit code 127, before the helper's own code runs.
        $script:loader = Join-Path $script:sandbox 'missing-library-helper'
        Set-Content -LiteralPath $script:loader -Value "#!/bin/sh`necho 'exchangemfa-helper: error while loading shared libraries: libyajl.so.2: cannot open shared object file: No such file or directory' >&2`nexit 127"
        [System.IO.File]::SetUnixFileMode($script:loader, [System.IO.UnixFileMode]'UserRead, UserWrite, UserExecute')
    }
    AfterAll {
        Remove-Item Env:EXCHANGEMFA_HELPER -ErrorAction Ignore
        Remove-Module ExchangeMfa -ErrorAction Ignore
    }

    It 'reports what the loader said in ExchangeMfa.HelperExited' {
        $env:EXCHANGEMFA_HELPER = $script:loader
        $parameters = Get-TestConnectParameters
        $failure = { Connect-ExchangeMfa @parameters } | Should -Throw -ErrorId 'ExchangeMfa.HelperExited,ExchangeMfa.ConnectExchangeMfaCommand' -PassThru
        $failure.Exception.Message | Should -Match 'exit code 127'
        $failure.Exception.Message | Should -Match 'libyajl\.so\.2: cannot open shared object file'
    }
}
