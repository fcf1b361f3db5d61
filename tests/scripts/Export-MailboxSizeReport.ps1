<#
.SYNOPSIS
    Mailbox sizes in MB, item counts and quota, largest first, saved as CSV.
#>
[CmdletBinding()]
param(
    [string] $UserPrincipalName,
    [string] $OutputPath = (Join-Path $PWD 'MailboxSizeReport.csv')
)

Connect-ExchangeOnline -UserPrincipalName $UserPrincipalName -ShowBanner:$false

$mailboxes = Get-EXOMailbox -ResultSize Unlimited -RecipientTypeDetails UserMailbox -Properties ProhibitSendQuota
$i = 0
$rows = foreach ($mailbox in $mailboxes) {
    $i++
    Write-Progress -Activity 'Mailbox sizes' -Status $mailbox.UserPrincipalName -PercentComplete ($i / $mailboxes.Count * 100)
    $stats = Get-EXOMailboxStatistics -Identity $mailbox.UserPrincipalName
    [pscustomobject]@{
        DisplayName       = $mailbox.DisplayName
        UserPrincipalName = $mailbox.UserPrincipalName
        ItemCount         = $stats.ItemCount
        TotalSizeMB       = [math]::Round($stats.TotalItemSize.Value.ToMB(), 2)
        DeletedSizeMB     = [math]::Round($stats.TotalDeletedItemSize.Value.ToMB(), 2)
        Quota             = $mailbox.ProhibitSendQuota
    }
}
Write-Progress -Activity 'Mailbox sizes' -Completed

$rows | Sort-Object TotalSizeMB -Descending | Export-Csv -Path $OutputPath -NoTypeInformation
Disconnect-ExchangeOnline -Confirm:$false
