# The Get-EXO* cmdlets of Microsoft's module (catalogue "client": "exo") run
# here as their underlying InvokeCommand cmdlet (Get-EXOMailbox -> Get-Mailbox)
# with $select naming the properties Microsoft documents for them:
# module/Data/PropertySets.json, docs/catalogue.md.

# .NET, not Join-Path: an import that calls no cmdlet loads none of
# PowerShell's own modules (docs/decisions.md, "Import and Connect time").
$script:PropertySetsPath = [System.IO.Path]::GetFullPath([System.IO.Path]::Combine($PSScriptRoot, '..', 'Data', 'PropertySets.json'))
# Get-EXO* name -> entry; loaded on first use.
$script:PropertySetsByCmdlet = $null

# Parameters that only steer Microsoft's client module: never sent.
$script:ExoClientParameters = @('Properties', 'PropertySets', 'Async')

function Get-ExoPropertySets {
    if ($null -eq $script:PropertySetsByCmdlet) {
        $document = ConvertFrom-Json -InputObject ([System.IO.File]::ReadAllText($script:PropertySetsPath)) -AsHashtable
        if ($document.version -ne 1) { throw "Unsupported property sets version '$($document.version)' in $script:PropertySetsPath." }
        $table = [System.Collections.Generic.Dictionary[string, object]]::new([System.StringComparer]::OrdinalIgnoreCase)
        foreach ($name in $document.cmdlets.Keys) { $table[$name] = $document.cmdlets[$name] }
        $script:PropertySetsByCmdlet = $table
    }
    $script:PropertySetsByCmdlet
}

function Resolve-ExoInvocation {
    # $null for a cmdlet that is not Get-EXO*; else the underlying cmdlet, the
    # parameters to send and the property names for $select ($null: every
    # property). Microsoft's rules: without -PropertySets the Minimum set;
    # -PropertySets unions the named sets (All: every property); -Properties
    # adds names.
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory)] [string] $CmdletName,
        [System.Collections.IDictionary] $Parameters
    )
    $entry = $null
    if (-not (Get-ExoPropertySets).TryGetValue($CmdletName, [ref]$entry)) { return $null }

    $sent = [ordered]@{}
    $properties = @()
    $setNames = @()
    if ($Parameters) {
        foreach ($key in $Parameters.Keys) {
            if ($key -eq 'Properties') { $properties = @($Parameters[$key] | ForEach-Object { [string]$_ }) }
            elseif ($key -eq 'PropertySets') { $setNames = @($Parameters[$key] | ForEach-Object { [string]$_ }) }
            elseif ($script:ExoClientParameters -notcontains $key) { $sent[$key] = $Parameters[$key] }
        }
    }

    # -UserPrincipalName and the like name the object: the underlying cmdlet
    # takes that as -Identity.
    $named = @(foreach ($name in $entry.identityParameters) { if ($sent.Contains($name)) { $name } })
    if ($named.Count -gt 1 -or ($named.Count -eq 1 -and $sent.Contains('Identity'))) {
        throw [System.ArgumentException]::new("$CmdletName`: give only one of -Identity, -$($entry.identityParameters -join ', -').")
    }
    if ($named.Count -eq 1) {
        $value = $sent[$named[0]]
        $sent.Remove($named[0])
        $sent.Insert(0, 'Identity', [string]$value)
    }

    $select = $null
    if ($entry.minimum.Count -gt 0) {
        $sets = @(foreach ($name in $setNames) {
            $canonical = $entry.propertySetValues | Where-Object { $_ -eq $name } | Select-Object -First 1
            if (-not $canonical) {
                throw [System.ArgumentException]::new("$CmdletName`: unknown property set '$name'. Valid: $($entry.propertySetValues -join ', ').")
            }
            $canonical
        })
        if ($sets -notcontains 'All') {
            if ($sets.Count -eq 0) { $sets = @('Minimum') }
            $seen = [System.Collections.Generic.HashSet[string]]::new([System.StringComparer]::OrdinalIgnoreCase)
            $select = [string[]]@(
                foreach ($set in $sets) { foreach ($name in $entry.sets[$set]) { if ($seen.Add($name)) { $name } } }
                foreach ($name in $properties) { if ($name -and $seen.Add($name)) { $name } }
            )
        }
    }
    [pscustomobject]@{
        CmdletName = [string]$entry.underlying
        Parameters = $sent
        Select     = $select
    }
}
