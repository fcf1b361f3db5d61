# The catalogue of Exchange cmdlets (module/Data/ExchangeCommands.json,
# schema version 2: docs/exchange.md). The build turns it into the
# proxy modules of module/Commands and their CommandNames.txt; at run time
# the module reads only that name list, and only when it needs it
# (Connect -CommandName or -Prefix, a typo suggestion, whether
# Invoke-ExchangeMfaCommand must ask first): never at import, never the JSON.

$script:CommandsPath = [ExchangeMfa.ModuleSetup]::CommandsFolder
# Proxy names (sorted), name -> canonical spelling, name -> products, and the
# names of the commands that change state; read once.
$script:CommandNameList = $null
$script:CommandNameSet = $null
$script:CommandProducts = $null
$script:StateChangingCommands = $null
# Verbs of cmdlets that only read, for cmdlets the catalogue lacks.
$script:ReadOnlyVerbs = @('Get', 'Search', 'Test', 'Export')

function Get-ExchangeCommandNameList {
    # Every catalogue name, from the list the build wrote beside the proxy
    # modules ("Name<TAB>Products<TAB>changesState": a few KB, where the
    # JSON is megabytes).
    if ($null -eq $script:CommandNameList) {
        $path = Join-Path $script:CommandsPath 'CommandNames.txt'
        if (-not [System.IO.File]::Exists($path)) { return @() }
        $set = [System.Collections.Generic.Dictionary[string, string]]::new([System.StringComparer]::OrdinalIgnoreCase)
        $products = [System.Collections.Generic.Dictionary[string, string[]]]::new([System.StringComparer]::OrdinalIgnoreCase)
        $changing = [System.Collections.Generic.HashSet[string]]::new([System.StringComparer]::OrdinalIgnoreCase)
        $names = [System.Collections.Generic.List[string]]::new(1024)
        foreach ($line in [System.IO.File]::ReadAllLines($path)) {
            $name, $productList, $changesState = $line.Split("`t", 3)
            $set[$name] = $name
            $products[$name] = ([string]$productList).Split(',')
            if ($changesState -eq 'true') { [void]$changing.Add($name) }
            $names.Add($name)
        }
        $script:CommandNameSet = $set
        $script:CommandProducts = $products
        $script:StateChangingCommands = $changing
        $script:CommandNameList = $names.ToArray()
    }
    $script:CommandNameList
}

function Test-ExchangeCommandChangesState {
    # Whether a cmdlet changes state: the catalogue's answer, else (a cmdlet
    # it lacks) every verb but the read-only ones.
    param([Parameter(Mandatory)] [string] $Name)
    $null = Get-ExchangeCommandNameList
    if ($null -ne $script:CommandNameSet -and $script:CommandNameSet.ContainsKey($Name)) {
        return $script:StateChangingCommands.Contains($Name)
    }
    $script:ReadOnlyVerbs -notcontains ($Name -split '-', 2)[0]
}

function Resolve-ExchangeCommandName {
    # -CommandName values -> catalogue names (canonical spelling). A name
    # the catalogue lacks is an error: a typo should not pass silently.
    param(
        [string[]] $Name,
        # Without -Name: the names of this product's commands.
        [string] $Product,
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Cmdlet
    )
    $names = Get-ExchangeCommandNameList
    if (-not $names) {
        $Cmdlet.ThrowTerminatingError([ExchangeMfa.ErrorRecords]::Create('UnknownCommandName', "The proxy commands are not built ($script:CommandsPath/CommandNames.txt is missing): run ./build.sh.", $script:CommandsPath))
    }
    if (-not $Name) {
        if (-not $Product) { return $names }
        return @(foreach ($item in $names) { if ($script:CommandProducts[$item] -contains $Product) { $item } })
    }
    $unknown = @(foreach ($item in $Name) { if (-not $script:CommandNameSet.ContainsKey($item)) { $item } })
    if ($unknown) {
        $record = [ExchangeMfa.ErrorRecords]::Create('UnknownCommandName', "The catalogue has no command named $($unknown -join ', '). Use Invoke-ExchangeMfaCommand for cmdlets outside the catalogue.", $unknown)
        $Cmdlet.ThrowTerminatingError($record)
    }
    # Canonical names, each once, in the order given.
    $seen = [System.Collections.Generic.HashSet[string]]::new([System.StringComparer]::OrdinalIgnoreCase)
    @(foreach ($item in $Name) { $canonical = $script:CommandNameSet[$item]; if ($seen.Add($canonical)) { $canonical } })
}
