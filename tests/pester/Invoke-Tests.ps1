# Runs every Pester test file under tests/pester and ends with one summary
# line: "Pester: N passed, N failed[, N skipped]". Exits 1 on any failure.
#   pwsh -NoProfile -File tests/pester/Invoke-Tests.ps1 [-Path a.Tests.ps1,b.Tests.ps1] [-Output Detailed]
[CmdletBinding()]
param(
    [string[]] $Path = @($PSScriptRoot),
    [ValidateSet('None', 'Normal', 'Detailed', 'Diagnostic')]
    [string] $Output = 'Detailed'
)

$ErrorActionPreference = 'Stop'
# pwsh -File passes "a,b" as one string.
$Path = @($Path | ForEach-Object { $_ -split ',' } | Where-Object { $_ })

$result = $null
try {
    Import-Module Pester -MinimumVersion 5.0.0
    $configuration = New-PesterConfiguration
    $configuration.Run.Path = $Path
    $configuration.Run.PassThru = $true
    $configuration.Output.Verbosity = $Output
    $result = Invoke-Pester -Configuration $configuration
}
catch {
    Write-Host "Pester could not run: $_"
}

if (-not $result) {
    Write-Host 'Pester: 0 passed, 0 failed, the run failed'
    exit 1
}
$summary = "Pester: $($result.PassedCount) passed, $($result.FailedCount) failed"
if ($result.SkippedCount -gt 0) { $summary += ", $($result.SkippedCount) skipped" }
# A file that failed outside an It (BeforeAll, discovery) counts as a failure.
$broken = @($result.Containers | Where-Object { $_.Result -eq 'Failed' -and $_.FailedCount -eq 0 }).Count
if ($broken -gt 0) { $summary += ", $broken files failed to run" }
Write-Host $summary
if ($result.FailedCount -gt 0 -or $broken -gt 0 -or $result.Result -ne 'Passed') { exit 1 }
exit 0
