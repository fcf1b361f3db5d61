<#
.SYNOPSIS
    Bulk update: office, department attribute and hidden-from-GAL flag from a CSV
    with the columns UserPrincipalName, Office, Department, Hide.
#>
[CmdletBinding(SupportsShouldProcess)]
param(
    [Parameter(Mandatory)] [string] $CsvPath,
    [string] $UserPrincipalName,
    [string] $LogPath = (Join-Path $PWD 'BulkUpdate.log')
)

Connect-ExchangeOnline -UserPrincipalName $UserPrincipalName -ShowBanner:$false

$ok = 0
$failed = 0
Import-Csv -Path $CsvPath | ForEach-Object {
    $row = $_
    try {
        $hide = $row.Hide -in 'yes', 'true', '1'
        Set-Mailbox -Identity $row.UserPrincipalName -Office $row.Office -CustomAttribute1 $row.Department `
            -HiddenFromAddressListsEnabled $hide -ErrorAction Stop
        Add-Content -Path $LogPath -Value "OK     $($row.UserPrincipalName)"
        $ok++
    }
    catch {
        Add-Content -Path $LogPath -Value "FAILED $($row.UserPrincipalName): $($_.Exception.Message)"
        $failed++
    }
}

Write-Host "$ok updated, $failed failed. See $LogPath"
Disconnect-ExchangeOnline -Confirm:$false
