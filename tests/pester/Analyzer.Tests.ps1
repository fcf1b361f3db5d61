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
        $findings = @(Invoke-ScriptAnalyzer -Path (Join-Path $root 'module') -Recurse -Settings $settings) +
            @(Invoke-ScriptAnalyzer -Path (Join-Path $root 'ExchangeMfa.psd1') -Settings $settings)
        $findings | Format-Table RuleName, ScriptName, Line, Message -AutoSize | Out-String | Write-Host
        $findings.Count | Should -Be 0
    }
}
