# PSScriptAnalyzer settings for the module (run by Analyzer.Tests.ps1).
@{
    Severity     = @('Error', 'Warning')
    ExcludeRules = @(
        # Connect-ExchangeMfa shows the device code and its banner with
        # Write-Host on purpose: they must show even when output is captured.
        'PSAvoidUsingWriteHost'
    )
}
