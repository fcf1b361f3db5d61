function Write-ExchangeMfaBanner {
    # A short banner like Connect-ExchangeOnline's. Write-Host (the
    # information stream) so it never mixes with the command's output.
    $version = $ExecutionContext.SessionState.Module.Version
    Write-Host ('-' * 72)
    Write-Host "ExchangeMfa ${version}: Exchange Online with multi-factor authentication."
    Write-Host 'Exchange commands: Get-Command -Module ExchangeMfa.Commands*. Connections: Get-ExchangeMfaConnection.'
    Write-Host 'Help: Get-Help about_ExchangeMfa. Hide this banner with -ShowBanner:$false.'
    Write-Host ('-' * 72)
}
