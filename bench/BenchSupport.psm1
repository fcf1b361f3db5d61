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

function Write-StreamPlot {
    # Two panels against N: objects/s, and peak memory (MB), one line per
    # client (medians). Drawn as SVG, turned into PNG by rsvg-convert
    # (Debian's librsvg2-bin, installed by ./build.sh bench); without it the
    # SVG stays. Answers the path written.
    param(
        [Parameter(Mandatory)] [string] $Path,
        [Parameter(Mandatory)] [int[]] $Sizes,
        [Parameter(Mandatory)] [object[]] $Series,   # {Client, Rate[], Memory[]} (a null Rate: not drawn)
        [int] $Runs
    )
    $colors = @('#1f6fb4', '#d9541e', '#3a9a3a', '#8c4bb5')
    $inv = [cultureinfo]::InvariantCulture
    $svg = [System.Text.StringBuilder]::new()
    $width = 900; $height = 380
    [void]$svg.AppendLine("<svg xmlns='http://www.w3.org/2000/svg' width='$width' height='$height' font-family='sans-serif' font-size='12'>")
    [void]$svg.AppendLine("<rect width='$width' height='$height' fill='white'/>")
    $panels = @(
        @{ Title = 'objects/s (median)'; Key = 'Rate'; Left = 70 }
        @{ Title = 'peak memory, MB (median)'; Key = 'Memory'; Left = 520 }
    )
    foreach ($panel in $panels) {
        $left = $panel.Left; $top = 40; $plotWidth = 330; $plotHeight = 260
        $values = @($Series | ForEach-Object { $_.($panel.Key) } | Where-Object { $null -ne $_ })
        $max = ($values | Measure-Object -Maximum).Maximum * 1.1
        if (-not $max) { $max = 1 }
        $xOf = { param($n) $left + $plotWidth * ($n - 0) / ($Sizes[-1] * 1.05) }
        $yOf = { param($v) $top + $plotHeight - $plotHeight * $v / $max }
        [void]$svg.AppendLine("<text x='$left' y='25' font-size='14'>$($panel.Title)</text>")
        [void]$svg.AppendLine("<line x1='$left' y1='$($top + $plotHeight)' x2='$($left + $plotWidth)' y2='$($top + $plotHeight)' stroke='black'/>")
        [void]$svg.AppendLine("<line x1='$left' y1='$top' x2='$left' y2='$($top + $plotHeight)' stroke='black'/>")
        foreach ($step in 0..4) {
            $v = $max * $step / 4
            $y = (& $yOf $v).ToString('F1', $inv)
            [void]$svg.AppendLine("<line x1='$($left - 4)' y1='$y' x2='$($left + $plotWidth)' y2='$y' stroke='#ddd'/><text x='$($left - 6)' y='$y' text-anchor='end' dy='4'>$('{0:N0}' -f $v)</text>")
        }
        foreach ($n in $Sizes) {
            $x = (& $xOf $n).ToString('F1', $inv)
            [void]$svg.AppendLine("<text x='$x' y='$($top + $plotHeight + 16)' text-anchor='middle'>$('{0:N0}' -f $n)</text>")
        }
        [void]$svg.AppendLine("<text x='$($left + $plotWidth / 2)' y='$($top + $plotHeight + 34)' text-anchor='middle'>N objects</text>")
        for ($i = 0; $i -lt $Series.Count; $i++) {
            $points = $Series[$i].($panel.Key)
            if ($null -eq $points -or $points.Count -eq 0 -or $null -eq $points[0]) { continue }
            $coords = for ($j = 0; $j -lt $Sizes.Count; $j++) { '{0},{1}' -f (& $xOf $Sizes[$j]).ToString('F1', $inv), (& $yOf $points[$j]).ToString('F1', $inv) }
            [void]$svg.AppendLine("<polyline fill='none' stroke='$($colors[$i])' stroke-width='2' points='$($coords -join ' ')'/>")
            foreach ($c in $coords) { $x, $y = $c -split ','; [void]$svg.AppendLine("<circle cx='$x' cy='$y' r='3' fill='$($colors[$i])'/>") }
        }
    }
    for ($i = 0; $i -lt $Series.Count; $i++) {
        $x = 70 + 200 * $i
        [void]$svg.AppendLine("<rect x='$x' y='$($height - 16)' width='12' height='4' fill='$($colors[$i])'/><text x='$($x + 16)' y='$($height - 10)'>$([System.Security.SecurityElement]::Escape($Series[$i].Client))</text>")
    }
    [void]$svg.AppendLine("<text x='$($width - 10)' y='$($height - 10)' text-anchor='end' fill='#666'>$Runs runs, instant server</text>")
    [void]$svg.AppendLine('</svg>')
    $svgPath = [System.IO.Path]::ChangeExtension($Path, '.svg')
    Set-Content -LiteralPath $svgPath -Value $svg.ToString()
    $converter = Get-Command rsvg-convert -CommandType Application -ErrorAction Ignore | Select-Object -First 1
    if (-not $converter) { return "$svgPath (rsvg-convert not found: no PNG)" }
    & $converter.Source -o $Path $svgPath
    if ($LASTEXITCODE -ne 0) { return "$svgPath (rsvg-convert failed: no PNG)" }
    Remove-Item -LiteralPath $svgPath
    $Path
}

Export-ModuleMember -Function Get-PeakMemoryMB, Format-Figure, Write-StreamPlot
