<#
.SYNOPSIS
    Finds mail leaving mailboxes automatically: mailbox forwarding and inbox rules that
    forward or redirect, saved as CSV for review.
#>
[CmdletBinding()]
param(
    [string] $UserPrincipalName,
    [string] $OutputPath = (Join-Path $PWD 'ForwardingReport.csv')
)

Connect-ExchangeOnline -UserPrincipalName $UserPrincipalName -ShowBanner:$false

$mailboxes = Get-EXOMailbox -ResultSize Unlimited -Properties ForwardingAddress, ForwardingSmtpAddress, DeliverToMailboxAndForward
$report = [System.Collections.Generic.List[object]]::new()
foreach ($mailbox in $mailboxes) {
    if ($mailbox.ForwardingSmtpAddress -or $mailbox.ForwardingAddress) {
        $target = $mailbox.ForwardingAddress
        if ($mailbox.ForwardingSmtpAddress) { $target = $mailbox.ForwardingSmtpAddress -replace '^smtp:' }
        $report.Add([pscustomobject]@{
            Mailbox  = $mailbox.UserPrincipalName
            Type     = 'MailboxForwarding'
            Name     = ''
            Target   = $target
            KeepCopy = $mailbox.DeliverToMailboxAndForward
        })
    }
    $rules = Get-InboxRule -Mailbox $mailbox.UserPrincipalName |
        Where-Object { $_.ForwardTo -or $_.ForwardAsAttachmentTo -or $_.RedirectTo }
    foreach ($rule in $rules) {
        $report.Add([pscustomobject]@{
            Mailbox  = $mailbox.UserPrincipalName
            Type     = 'InboxRule'
            Name     = $rule.Name
            Target   = (@($rule.ForwardTo) + @($rule.ForwardAsAttachmentTo) + @($rule.RedirectTo) | Where-Object { $_ }) -join ';'
            KeepCopy = $true
        })
    }
}

$report | Export-Csv -Path $OutputPath -NoTypeInformation
Write-Host "$($report.Count) forwarding entries found"
Disconnect-ExchangeOnline -Confirm:$false
