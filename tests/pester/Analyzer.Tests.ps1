# PSScriptAnalyzer over the module with the checked-in settings. Skipped
# when PSScriptAnalyzer is not installed (it comes from the PowerShell
# Gallery, which this build environment cannot reach).

BeforeDiscovery {
    $script:haveAnalyzer = [bool](Get-Module -ListAvailable PSScriptAnalyzer)
}

Describe 'PSScriptAnalyzer' {
    It 'finds no warning or error in the module' -Skip:(-not $script:haveAnalyzer) {
        $root = Join-Path $PSScriptRoot '../..'
        $settings = Join-Path $PSScriptRoot 'PSScriptAnalyzerSettings.psd1'
        # module/Commands is generated from Microsoft's names (some verbs are
        # not approved ones): the generator is what gets analysed. The
        # generated module/Bundle is the sources again.
        $separator = [System.IO.Path]::DirectorySeparatorChar
        $sources = Get-ChildItem -Path (Join-Path $root 'module') -Recurse -File -Include '*.ps1', '*.psm1', '*.psd1' |
            Where-Object { $_.FullName -notlike "*${separator}Commands${separator}*" -and $_.FullName -notlike "*${separator}Bundle${separator}*" }
        $findings = @(foreach ($file in $sources) { Invoke-ScriptAnalyzer -Path $file.FullName -Settings $settings }) +
            @(Invoke-ScriptAnalyzer -Path (Join-Path $root 'ExchangeMfa.psd1') -Settings $settings)
        $findings | Format-Table RuleName, ScriptName, Line, Message -AutoSize | Out-String | Write-Host
        $findings.Count | Should -Be 0
    }
}
