# Bytes of one Get-Mailbox page per helper build (issue: zlib in the static
# builds): Get-Mailbox -ResultSize 1000 is one page of 1,000 mailboxes from
# the emulator; its stats say whether the page went gzip-encoded and how many
# HTTP bytes the answer took (status line, headers, chunked framing and
# body as sent, before TLS: stats.pageBytesSent). Prints them, asserts nothing.
#
# Helpers measured: the dev build (module/bin/linux-x64), the package's Linux
# helper (build/package-linux-x64, ./build.sh package) and the Windows helper
# (module/bin/win-x64, under Wine), those that exist; or the paths given.
#
#   pwsh -NoProfile -File bench/page-bytes.ps1 [-Helper path[,path...]]
param([string[]] $Helper)

$ErrorActionPreference = 'Stop'
$root = Split-Path $PSScriptRoot -Parent
Import-Module (Join-Path $root 'tests/pester/TestSupport.psm1')

$Helper = @($Helper | ForEach-Object { $_ -split ',' })   # pwsh -File passes "a,b" as one string
if (-not $Helper) {
    $Helper = @('module/bin/linux-x64/exchangemfa-helper', 'build/package-linux-x64/native/exchangemfa-helper',
        'module/bin/win-x64/exchangemfa-helper.exe') | ForEach-Object { Join-Path $root $_ } | Where-Object { Test-Path $_ }
}
$wine = @{
    EXCHANGEMFA_HELPER_LAUNCHER = 'wine'; WINEARCH = 'win64'; WINEPREFIX = Join-Path $root 'build/wine-prefix'
    WINEDEBUG = '-all'; WINEDLLOVERRIDES = 'mscoree,mshtml='; DISPLAY = $null; WAYLAND_DISPLAY = $null
}
$null = Start-TestSession -Mailboxes 1000
try {
    foreach ($path in $Helper) {
        $env:EXCHANGEMFA_HELPER = (Resolve-Path $path).Path
        $launched = $path.EndsWith('.exe')
        if ($launched) { foreach ($name in $wine.Keys) { [Environment]::SetEnvironmentVariable($name, $wine[$name]) } }
        try {
            Import-Module (Join-Path $root 'ExchangeMfa.psd1') -Force -Global   # a new helper
            $device = Get-TestConnectParameters
            $null = Connect-ExchangeMfa @device 6> $null   # no device-code message
            Reset-Emulator
            $count = @(Get-Mailbox -ResultSize 1000).Count
            Start-Sleep -Milliseconds 200   # the answer's last write is counted when it finishes
            $stats = Get-EmulatorStats
            '{0}: {1} mailboxes in {2} page(s), {3} gzip, {4:N0} bytes of HTTP answer (before TLS)' -f $path.Replace("$root/", ''),
                $count, $stats.pagesServed, $stats.pagesServedGzip, $stats.pageBytesSent
            Disconnect-ExchangeMfa -Confirm:$false
        }
        finally {
            Remove-Item Env:EXCHANGEMFA_HELPER
            if ($launched) {
                & wineserver -k *> $null   # this prefix's server, and the helper with it
                foreach ($name in $wine.Keys) { [Environment]::SetEnvironmentVariable($name, $null) }
            }
        }
    }
}
finally { Stop-TestSession }
