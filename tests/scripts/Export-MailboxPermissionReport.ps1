<#
.SYNOPSIS
    Lists who has Full Access to which mailbox, besides the owner, and saves it as CSV.
.EXAMPLE
    .\Export-MailboxPermissionReport.ps1 -UserPrincipalName admin@contoso.com -OutputPath .\perms.csv
#>
[CmdletBinding()]
param(
    [string] $UserPrincipalName,
    [string] $OutputPath = (Join-Path $PWD "MailboxPermissions_$(Get-Date -Format yyyyMMdd).csv")
)

if (-not (Get-ConnectionInformation)) {
    Connect-ExchangeOnline -UserPrincipalName $UserPrincipalName -ShowBanner:$false
}

$mailboxes = Get-EXOMailbox -ResultSize Unlimited -RecipientTypeDetails UserMailbox, SharedMailbox
Write-Host "Checking $($mailboxes.Count) mailboxes..."

$report = foreach ($mailbox in $mailboxes) {
    $permissions = Get-EXOMailboxPermission -Identity $mailbox.UserPrincipalName |
        Where-Object { $_.User -notlike 'NT AUTHORITY\SELF' -and $_.IsInherited -eq $false }
    foreach ($permission in $permissions) {
        [pscustomobject]@{
            Mailbox      = $mailbox.DisplayName
            MailboxUPN   = $mailbox.UserPrincipalName
            MailboxType  = $mailbox.RecipientTypeDetails
            User         = $permission.User
            AccessRights = $permission.AccessRights -join ','
        }
    }
}

$report | Export-Csv -Path $OutputPath -NoTypeInformation -Encoding UTF8
Write-Host "$(@($report).Count) permission entries written to $OutputPath"
Disconnect-ExchangeOnline -Confirm:$false
