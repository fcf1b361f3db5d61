<#
.SYNOPSIS
    User mailboxes nobody has signed in to for a number of days, saved as CSV.
#>
[CmdletBinding()]
param(
    [string] $UserPrincipalName,
    [int] $InactiveDays = 90,
    [string] $OutputPath = (Join-Path $PWD 'InactiveMailboxes.csv')
)

Connect-ExchangeOnline -UserPrincipalName $UserPrincipalName -ShowBanner:$false

$report = Get-EXOMailbox -ResultSize Unlimited -RecipientTypeDetails UserMailbox |
    ForEach-Object {
        $stats = Get-EXOMailboxStatistics -Identity $_.UserPrincipalName -PropertySets All
        if ($stats.LastLogonTime) {
            $days = (New-TimeSpan -Start $stats.LastLogonTime -End (Get-Date)).Days
        }
        else {
            $days = 'Never logged in'
        }
        if ($days -eq 'Never logged in' -or $days -ge $InactiveDays) {
            [pscustomobject]@{
                UserPrincipalName = $_.UserPrincipalName
                DisplayName       = $_.DisplayName
                LastLogonTime     = $stats.LastLogonTime
                InactiveDays      = $days
                ItemCount         = $stats.ItemCount
            }
        }
    }

$report | Export-Csv -Path $OutputPath -NoTypeInformation
Write-Host "$(@($report).Count) mailboxes inactive for $InactiveDays days or more"
Disconnect-ExchangeOnline -Confirm:$false
