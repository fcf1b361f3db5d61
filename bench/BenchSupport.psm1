# Shared by the bench/*.ps1 scripts: how figures are read and printed.

function Get-PeakMemoryMB([int] $ProcessId) {
    # VmHWM: the resident set's high-water mark, from the kernel, in MB.
    $line = Select-String -Path "/proc/$ProcessId/status" -Pattern '^VmHWM:\s+(\d+) kB' | Select-Object -First 1
    [math]::Round([int64]$line.Matches[0].Groups[1].Value / 1024, 1)
}

function Format-Figure([string] $Name, [double[]] $Values, [string] $Unit = 'ms') {
    # "<name>: median M <unit> (min A, max B; N runs)"
    $sorted = $Values | Sort-Object
    $median = $sorted[[int][math]::Floor($sorted.Count / 2)]
    '{0}: median {1:N2} {5} (min {2:N2}, max {3:N2}; {4} runs)' -f $Name, $median, $sorted[0], $sorted[-1], $Values.Count, $Unit
}

Export-ModuleMember -Function Get-PeakMemoryMB, Format-Figure
