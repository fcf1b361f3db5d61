# The main job, on the embedded default: an MFA-enabled admin signs in with
# a device code and lists five mailboxes, against the local emulator.
#
# Run by `./build.sh demo`. The emulator plays the admin's phone: it approves
# the device code 3 seconds after it is shown (a person could instead open
# the printed /devicelogin page and approve it there). Everything on screen
# after "PS>" is what an admin sees against the real service.

$ErrorActionPreference = 'Stop'
$root = Split-Path $PSScriptRoot -Parent
Import-Module (Join-Path $PSScriptRoot 'pester/TestSupport.psm1')

$emulator = Start-TestEmulator -Mailboxes 2500 -ExtraArguments @('--auto-approve-delay', '3000')
try {
    # The emulator stands in for login.microsoftonline.com and outlook.office365.com.
    $cloud = @{
        AzureADAuthorizationEndpointUri = $emulator.Authority
        ConnectionUri                   = $emulator.Url
    }
    Write-Host "PS> Import-Module ./ExchangeMfa.psd1"
    Import-Module (Join-Path $root 'ExchangeMfa.psd1')
    Write-Host "PS> Connect-ExchangeMfa -UserPrincipalName admin@contoso.onmicrosoft.com -Device"
    $session = Connect-ExchangeMfa -UserPrincipalName admin@contoso.onmicrosoft.com -Device @cloud
    $session | Out-Host
    Write-Host "PS> Get-Mailbox -ResultSize 5 | Format-Table"
    Get-Mailbox -ResultSize 5 | Format-Table | Out-Host
    Write-Host "PS> Disconnect-ExchangeMfa -Confirm:`$false"
    Disconnect-ExchangeMfa -Confirm:$false
}
finally {
    Stop-TestEmulator
}
