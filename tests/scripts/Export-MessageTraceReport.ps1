<#
.SYNOPSIS
    Messages that failed delivery over the last hours, with the reason of each, saved as CSV.
#>
[CmdletBinding()]
param(
    [string] $UserPrincipalName,
    [int] $Hours = 24,
    [string] $OutputPath = (Join-Path $PWD 'FailedMessages.csv')
)

Connect-ExchangeOnline -UserPrincipalName $UserPrincipalName -ShowBanner:$false

$end = Get-Date
$start = $end.AddHours(-$Hours)
$messages = Get-MessageTraceV2 -StartDate $start -EndDate $end -Status Failed -ResultSize 5000

$report = foreach ($message in $messages) {
    $detail = Get-MessageTraceDetailV2 -MessageTraceId $message.MessageTraceId -RecipientAddress $message.RecipientAddress |
        Where-Object { $_.Event -eq 'Fail' } | Select-Object -First 1
    [pscustomobject]@{
        Received  = $message.Received
        Sender    = $message.SenderAddress
        Recipient = $message.RecipientAddress
        Subject   = $message.Subject
        Reason    = $detail.Detail
    }
}

$report | Export-Csv -Path $OutputPath -NoTypeInformation
Write-Host "$(@($report).Count) failed messages between $start and $end"
Disconnect-ExchangeOnline -Confirm:$false
