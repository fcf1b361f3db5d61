# Module manifest for ExchangeMfa: the module's face. Export lists are explicit
# so PowerShell's command discovery never has to load the module to learn them.
@{
    RootModule           = 'module/bin/ExchangeMfa.Types.dll'
    ModuleVersion        = '0.1.0'
    GUID                 = '4f0b6f9e-5d2a-4c7e-9a41-3e8d2b1c7a65'
    Author               = 'ExchangeMfa contributors'
    CompanyName          = 'ExchangeMfa'
    Copyright            = '(c) ExchangeMfa contributors. All rights reserved.'
    Description          = 'Exchange Online administration with multi-factor authentication: browser, device code, certificate, managed identity, federated, access token and password sign-in, a shared token cache with silent sign-in and renewal, and streaming Exchange admin REST results, through a small native helper.'
    PowerShellVersion    = '7.4'
    CompatiblePSEditions = @('Core')
    FunctionsToExport    = @()
    CmdletsToExport      = @(
        'Connect-ExchangeMfa'
        'Disconnect-ExchangeMfa'
        'Get-ExchangeMfaConnection'
        'Invoke-ExchangeMfaCommand'
        'Connect-ExchangeOnline'
        'Connect-IPPSSession'
        'Disconnect-ExchangeOnline'
        'Get-ConnectionInformation'
        'Install-ExchangeMfaCompatibility'
        'Uninstall-ExchangeMfaCompatibility'
    )
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            # PSEdition_Core and the platforms: the Gallery's filters.
            Tags         = @('Exchange', 'ExchangeOnline', 'MFA', 'OAuth', 'DeviceCode', 'PKCE', 'ManagedIdentity', 'Certificate', 'PSEdition_Core', 'Windows', 'Linux', 'MacOS')
            LicenseUri   = 'https://example.invalid/exchangemfa/LICENSE'
            ProjectUri   = 'https://example.invalid/exchangemfa'
            ReleaseNotes = 'Every sign-in mode (browser with PKCE, device code, certificate, managed identity, federated token, access token, password), a token cache shared by sessions (silent sign-in, -InMemoryTokenCache, -ForgetCache), connections, a generic invoker, and proxy commands for the Exchange cmdlets of the catalogue (module/Data/ExchangeCommands.json), made at Connect time with -Prefix and -CommandName.'
        }
    }
}
