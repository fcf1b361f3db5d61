<#
.SYNOPSIS
    Runs a Purview content search over every mailbox and reports its item count.
#>
[CmdletBinding()]
param(
    [string] $UserPrincipalName,
    [string] $SearchName = "Search $(Get-Date -Format yyyyMMdd-HHmm)",
    [string] $Query = 'subject:"Invoice"',
    [int] $TimeoutSeconds = 300,
    [string] $OutputPath = (Join-Path $PWD 'ContentSearch.csv')
)

Connect-IPPSSession -UserPrincipalName $UserPrincipalName

New-ComplianceSearch -Name $SearchName -ExchangeLocation All -ContentMatchQuery $Query | Out-Null
Start-ComplianceSearch -Identity $SearchName

$deadline = (Get-Date).AddSeconds($TimeoutSeconds)
do {
    Start-Sleep -Seconds 2
    $search = Get-ComplianceSearch -Identity $SearchName
    Write-Host "Status: $($search.Status)"
} while ($search.Status -ne 'Completed' -and (Get-Date) -lt $deadline)

if ($search.Status -ne 'Completed') { throw "The search '$SearchName' did not complete in $TimeoutSeconds seconds." }

$search | Select-Object Name, Status, ContentMatchQuery, Items, Size, JobEndTime |
    Export-Csv -Path $OutputPath -NoTypeInformation
Disconnect-ExchangeOnline -Confirm:$false
