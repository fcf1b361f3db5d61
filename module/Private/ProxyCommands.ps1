# Proxy commands for the Exchange cmdlets of the catalogue. They are made at
# BUILD time (tools/proxies/Build-ProxyModules.ps1 calls Export-ExchangeProxyModule
# below) into module/Commands: small modules, one a noun family, each with a
# manifest listing its functions. The import (ModuleSetup.cs) puts that folder
# on the process's PSModulePath, so PowerShell's own autoloading loads a family on
# first use, on tab completion and on Get-Help; Connect imports nothing.
# Each function is a real param block (binding, validation, -WhatIf/-Confirm,
# completion and help are PowerShell's own) and one call to
# [ExchangeMfa.ExchangeProxy]::Invoke, the single implementation they all share
# (module/Types/ExchangeProxy.cs).
# docs/exchange.md has the details.

# prefix -> @{ Prefix; ConnectionId; Module; CommandNames }: the aliases
# Verb-<Prefix>Noun -> Verb-Noun of a connection opened with -Prefix.
$script:ProxyPrefixes = @{}

# Catalogue type -> the PowerShell type of the generated parameter.
$script:ProxyParameterTypes = @{
    'string' = 'string'; 'string[]' = 'string[]'; 'int' = 'int'; 'long' = 'long'; 'double' = 'double'; 'bool' = 'bool'
    'switch' = 'switch'; 'datetime' = 'datetime'; 'guid' = 'guid'; 'hashtable' = 'hashtable'
    'hashtable[]' = 'hashtable[]'; 'byte[]' = 'byte[]'; 'securestring' = 'securestring'
    'unlimited' = 'string'; 'enum' = 'string'; 'object' = 'object'; 'object[]' = 'object[]'
}

$script:ResultSizePattern = '^(Unlimited|[1-9][0-9]{0,9})$'

# The most requests a proxy keeps in flight for pipeline input
# (-ThrottleLimit; the default is ExchangeProxy.DefaultThrottleLimit).
$script:MaxThrottleLimit = 64
$script:ProductDisplayNames = @{ ExchangeOnline = 'Exchange Online'; SecurityCompliance = 'Security & Compliance' }

# ---------------------------------------------------------------------------
# Build time: catalogue -> module/Commands. Runs once a build, not at Connect.

function ConvertTo-ProxyLiteral {
    # A single-quoted PowerShell literal.
    param([string] $Text)
    "'" + $Text.Replace("'", "''") + "'"
}

function ConvertTo-ProxyHelpText {
    # Help text must not close the <# #> block.
    param([string] $Text)
    $Text.Replace('#>', '# >').Replace('<#', '< #')
}

function Get-ProxyCommandGroup {
    # Catalogue commands -> ordered group name -> command list. A family is
    # the noun's first word (Get-EXOMailbox and Set-CASMailbox aside: EXO
    # and a leading acronym do not count when a word follows), families of
    # more than $Largest are split by their first two words, and neighbouring
    # small families are packed together up to $Largest.
    param([object[]] $Command, [int] $Largest = 40, [int] $Smallest = 15)
    $families = [System.Collections.Generic.SortedDictionary[string, object]]::new([System.StringComparer]::OrdinalIgnoreCase)
    foreach ($entry in $Command) {
        $noun = ([string]$entry.name -split '-', 2)[1]
        $words = [regex]::Matches(($noun -replace '^EXO(?=[A-Z])', ''), '[A-Z]+(?![a-z])|[A-Z][a-z0-9]*|[a-z0-9]+').Value
        foreach ($depth in 1, 2) {
            $key = [string]::Join('', @($words)[0..([Math]::Min($depth, @($words).Count) - 1)])
            if ($depth -eq 1) { $one = $key } else { $two = $key }
        }
        if (-not $families.ContainsKey($one)) { $families[$one] = [System.Collections.Generic.List[object]]::new() }
        $families[$one].Add([pscustomobject]@{ Entry = $entry; Two = $two })
    }
    # Split the big families by their second word.
    $parts = [System.Collections.Generic.List[object]]::new()
    foreach ($family in $families.GetEnumerator()) {
        if ($family.Value.Count -le $Largest) {
            $parts.Add([pscustomobject]@{ Name = $family.Key; Entries = @($family.Value.Entry) })
            continue
        }
        foreach ($sub in ($family.Value | Group-Object Two | Sort-Object Name)) {
            $parts.Add([pscustomobject]@{ Name = $sub.Name; Entries = @($sub.Group.Entry) })
        }
    }
    # Pack neighbours: a group grows until the next part would pass $Largest.
    # It is named after its biggest part.
    $groups = [ordered]@{}
    $current = $null
    foreach ($part in $parts) {
        if ($current -and ($current.Entries.Count -ge $Smallest -or $current.Entries.Count + $part.Entries.Count -gt $Largest)) {
            $groups[$current.Name] = $current.Entries
            $current = $null
        }
        if (-not $current) {
            $current = [pscustomobject]@{ Name = $part.Name; Biggest = $part.Entries.Count; Entries = [System.Collections.Generic.List[object]]::new() }
        }
        elseif ($part.Entries.Count -gt $current.Biggest) {
            $current.Name = $part.Name; $current.Biggest = $part.Entries.Count
        }
        $current.Entries.AddRange([object[]]$part.Entries)
    }
    if ($current) { $groups[$current.Name] = $current.Entries }
    $groups
}

function Add-ProxyFunctionText {
    # One catalogue entry -> the text of its proxy function. Help stays
    # short (parse cost is load cost): the synopsis, one description line
    # and per parameter only facts; -Online opens Microsoft's page.
    param(
        [Parameter(Mandatory)] [System.Text.StringBuilder] $Text,
        [Parameter(Mandatory)] [object] $Command
    )
    $name = [string]$Command.name
    $commandProducts = @($Command.products)
    $where = [string]::Join(' or ', [string[]]@(foreach ($product in $commandProducts) { $script:ProductDisplayNames[[string]$product] }))
    $connect = if ($commandProducts -contains 'ExchangeOnline') { 'Connect-ExchangeMfa or Connect-ExchangeOnline' } else { 'Connect-IPPSSession' }
    [void]$Text.Append("function $name {`n    <#`n    .SYNOPSIS`n    $(ConvertTo-ProxyHelpText $Command.synopsis)`n`n    .DESCRIPTION`n    Runs $name on $where through ExchangeMfa ($connect first).`n`n")
    # PowerShell names are case-insensitive: a name the docs spell twice
    # (PolicyScopeGroupID, PolicyScopeGroupId) is one parameter, the first.
    $local = [ExchangeMfa.ExchangeProxy]::LocalParameters
    $seen = [System.Collections.Generic.HashSet[string]]::new($local, [System.StringComparer]::OrdinalIgnoreCase)
    $parameters = @(foreach ($parameter in $Command.parameters) {
            if ($seen.Add([string]$parameter.name)) { $parameter }
            elseif ($local -notcontains [string]$parameter.name) { Write-Warning "$name`: the catalogue repeats -$($parameter.name); the first one is used." }
        })
    foreach ($parameter in $parameters) {
        $facts = [System.Collections.Generic.List[string]]::new()
        if ($parameter.typeName) { $facts.Add([string]$parameter.typeName) }
        if ($commandProducts.Count -gt 1 -and $parameter.products) {
            $facts.Add([string]::Join(', ', [string[]]@(foreach ($product in $parameter.products) { $script:ProductDisplayNames[[string]$product] })))
        }
        if ($parameter.wildcards) { $facts.Add('Accepts wildcards') }
        [void]$Text.Append("    .PARAMETER $($parameter.name)`n    $(ConvertTo-ProxyHelpText ([string]::Join('. ', $facts)))$(if ($facts.Count) { '.' })`n`n")
    }
    # Pipeline input: up to -ThrottleLimit invokes in flight at once.
    $pipelined = @($parameters | Where-Object { $_.valueFromPipeline -or $_.pipelineByPropertyName }).Count -gt 0
    [void]$Text.Append("    .PARAMETER ConnectionId`n    The connection to use instead of the default one.`n")
    if ($pipelined) {
        [void]$Text.Append("`n    .PARAMETER ThrottleLimit`n    Requests kept in flight for pipeline input, 1..$script:MaxThrottleLimit; default the connection's (8). Results come out in input order.`n")
    }
    [void]$Text.Append("    #>`n")

    $binding = [System.Collections.Generic.List[string]]::new()
    if ($Command.defaultParameterSet) { $binding.Add("DefaultParameterSetName = $(ConvertTo-ProxyLiteral $Command.defaultParameterSet)") }
    if ($Command.changesState) {
        $binding.Add("SupportsShouldProcess = `$true, ConfirmImpact = $(ConvertTo-ProxyLiteral $Command.confirmImpact)")
    }
    if ($Command.onlineUri) { $binding.Add("HelpUri = $(ConvertTo-ProxyLiteral $Command.onlineUri)") }
    [void]$Text.Append("    [CmdletBinding($([string]::Join(', ', $binding)))]`n    [OutputType($(ConvertTo-ProxyLiteral $Command.outputType))]`n    param(`n")
    foreach ($parameter in $parameters) {
        # Attributes, type, name and default of one catalogue parameter.
        # The docs' "Accept pipeline input: True" seldom says how; Exchange's
        # own cmdlets bind results of other cmdlets by property name
        # (Get-Mailbox | Set-Mailbox), so pipeline input is taken both ways.
        $flags = ''
        if ($parameter.valueFromPipeline) { $flags += ', ValueFromPipeline = $true' }
        if ($parameter.pipelineByPropertyName -or $parameter.valueFromPipeline) { $flags += ', ValueFromPipelineByPropertyName = $true' }
        if ($parameter.sets) {
            foreach ($set in $parameter.sets) {
                $setFlags = $flags
                if ($set.mandatory) { $setFlags = ', Mandatory = $true' + $setFlags }
                if ($null -ne $set.position) { $setFlags = ", Position = $([int]$set.position)" + $setFlags }
                [void]$Text.Append("        [Parameter(ParameterSetName = $(ConvertTo-ProxyLiteral $set.name)$setFlags)]`n")
            }
        }
        else {
            if ($parameter.mandatory) { $flags = ', Mandatory = $true' + $flags }
            if ($null -ne $parameter.position) { $flags = ", Position = $([int]$parameter.position)" + $flags }
            # In every set: the flags alone, without their leading ', '.
            [void]$Text.Append("        [Parameter($(if ($flags) { $flags.Substring(2) }))]`n")
        }
        if ($parameter.aliases) {
            [void]$Text.Append("        [Alias($([string]::Join(', ', [string[]]@(foreach ($alias in $parameter.aliases) { ConvertTo-ProxyLiteral $alias }))))]`n")
        }
        $type = $script:ProxyParameterTypes[[string]$parameter.type]
        if (-not $type) { throw "Catalogue parameter '$($parameter.name)' of $name has the unknown type '$($parameter.type)'." }
        if ($parameter.values) {
            [void]$Text.Append("        [ValidateSet($([string]::Join(', ', [string[]]@(foreach ($value in $parameter.values) { ConvertTo-ProxyLiteral $value }))))]`n")
        }
        if ($parameter.type -eq 'unlimited') { [void]$Text.Append("        [ValidatePattern('$script:ResultSizePattern')]`n") }
        $default = if ($null -ne $parameter.default) { " = $(ConvertTo-ProxyLiteral $parameter.default)" }
        [void]$Text.Append("        [$type] `$$($parameter.name)$default,`n`n")
    }
    [void]$Text.Append("        [ValidateNotNullOrEmpty()]`n        [string] `$ConnectionId")
    if (-not $pipelined) {
        [void]$Text.Append("`n    )`n    process { [ExchangeMfa.ExchangeProxy]::Invoke(`$PSCmdlet, $(ConvertTo-ProxyLiteral $name), `$PSBoundParameters, `$MyInvocation.InvocationName, `$script:Facts, `$null) }`n}`n")
        return
    }
    [void]$Text.Append(",`n`n        [ValidateRange(1, $script:MaxThrottleLimit)]`n        [int] `$ThrottleLimit`n    )`n")
    [void]$Text.Append("    begin { `$inFlight = [System.Collections.Generic.Queue[object]]::new() }`n")
    [void]$Text.Append("    process { [ExchangeMfa.ExchangeProxy]::Invoke(`$PSCmdlet, $(ConvertTo-ProxyLiteral $name), `$PSBoundParameters, `$MyInvocation.InvocationName, `$script:Facts, `$inFlight) }`n")
    [void]$Text.Append("    end { [ExchangeMfa.ExchangeProxy]::Complete(`$inFlight) }`n")
    # clean runs however the pipeline ends, also when Ctrl+C lands while a
    # command upstream runs and no block of this one is on the stack: the
    # requests still in flight are cancelled (after a normal end, none are).
    [void]$Text.Append("    clean { [ExchangeMfa.ExchangeProxy]::StopWindow(`$inFlight) }`n}`n")
}

function Get-ProxyFactsText {
    # The few facts ExchangeProxy.Invoke needs, as a literal table
    # entry: reading them here costs nothing at the first call, where
    # parsing the multi-MB catalogue would.
    param([Parameter(Mandatory)] [object] $Command)
    $products = [string]::Join(', ', [string[]]@(foreach ($product in $Command.products) { ConvertTo-ProxyLiteral $product }))
    $resultSize = $null
    foreach ($parameter in $Command.parameters) {
        if ($parameter.type -eq 'unlimited') { $resultSize = $parameter }
    }
    $text = "    $(ConvertTo-ProxyLiteral $Command.name) = @{ Products = @($products); ChangesState = `$$([bool]$Command.changesState); OutputType = $(ConvertTo-ProxyLiteral $Command.outputType)"
    if ($resultSize) {
        $text += "; ResultSize = $(ConvertTo-ProxyLiteral $resultSize.name)"
        if ($null -ne $resultSize.default) { $text += "; ResultSizeDefault = $(ConvertTo-ProxyLiteral $resultSize.default)" }
    }
    if ($Command.changesState) { $text += "; ConfirmImpact = $(ConvertTo-ProxyLiteral $Command.confirmImpact)" }
    if ($Command.client) { $text += "; Client = $(ConvertTo-ProxyLiteral $Command.client)" }
    $text + " }`n"
}

function Export-ExchangeProxyModule {
    # Writes module/Commands from the catalogue: one folder a group with its
    # manifest and module, and CommandNames.txt (every proxy's name,
    # products and whether it changes state).
    param(
        [Parameter(Mandatory)] [string] $CatalogPath,
        [Parameter(Mandatory)] [string] $Destination,
        [Parameter(Mandatory)] [string] $ModuleVersion
    )
    $document = ConvertFrom-Json -InputObject ([System.IO.File]::ReadAllText($CatalogPath))
    if ($document.version -ne 2) { throw "Unsupported catalogue version '$($document.version)' in $CatalogPath (2 expected)." }
    # ExchangeMfa implements the "module" cmdlets itself.
    $proxies = @($document.commands | Where-Object { $_.client -ne 'module' })
    $utf8 = [System.Text.UTF8Encoding]::new($false)
    $null = New-Item -ItemType Directory -Path $Destination -Force
    $groups = Get-ProxyCommandGroup -Command $proxies
    foreach ($group in $groups.GetEnumerator()) {
        $moduleName = "ExchangeMfa.Commands.$($group.Key)"
        $folder = Join-Path $Destination $moduleName
        $null = New-Item -ItemType Directory -Path $folder -Force
        $text = [System.Text.StringBuilder]::new(65536)
        [void]$text.Append("# Generated by tools/proxies/Build-ProxyModules.ps1 from module/Data/ExchangeCommands.json: do not edit.`n")
        [void]$text.Append("# The shared implementation comes from ExchangeMfa, which put this module on PSModulePath.`n")
        [void]$text.Append("`$exchangeMfa = @(Get-Module ExchangeMfa)[0]`nif (-not `$exchangeMfa -and (`$manifest = [AppDomain]::CurrentDomain.GetData('ExchangeMfa.Manifest'))) { `$exchangeMfa = Import-Module `$manifest -Global -PassThru }`nif (-not `$exchangeMfa) { throw 'Import-Module ExchangeMfa first: $moduleName runs through it.' }`n")
        [void]$text.Append("`$script:Facts = @{`n")
        foreach ($command in $group.Value) { [void]$text.Append((Get-ProxyFactsText -Command $command)) }
        [void]$text.Append("}`n`n")
        foreach ($command in $group.Value) {
            Add-ProxyFunctionText -Text $text -Command $command
            [void]$text.Append("`n")
        }
        [System.IO.File]::WriteAllText((Join-Path $folder "$moduleName.psm1"), $text.ToString(), $utf8)
        $exports = [string]::Join("`n", [string[]]@(foreach ($command in $group.Value) { "        $(ConvertTo-ProxyLiteral $command.name)" }))
        # A GUID from the name: the same group keeps its identity across builds.
        $guid = [guid]::new([System.Security.Cryptography.MD5]::HashData($utf8.GetBytes($moduleName)))
        $manifest = "# Generated by tools/proxies/Build-ProxyModules.ps1: do not edit.`n@{`n    RootModule        = '$moduleName.psm1'`n    ModuleVersion     = '$ModuleVersion'`n    GUID              = '$guid'`n    Description       = 'ExchangeMfa proxy commands: $($group.Key) family.'`n    PowerShellVersion = '7.2'`n    FunctionsToExport = @(`n$exports`n    )`n    CmdletsToExport   = @()`n    VariablesToExport = @()`n    AliasesToExport   = @()`n}`n"
        [System.IO.File]::WriteAllText((Join-Path $folder "$moduleName.psd1"), $manifest, $utf8)
    }
    # "Name<TAB>Product,Product<TAB>changesState": what -CommandName,
    # -Prefix, the typo suggestions and Invoke-ExchangeMfaCommand need,
    # without the JSON.
    $lines = [string[]]@(foreach ($command in $proxies) {
            "$($command.name)`t$(@($command.products) -join ',')`t$(([bool]$command.changesState).ToString().ToLowerInvariant())"
        })
    [System.IO.File]::WriteAllLines((Join-Path $Destination 'CommandNames.txt'), $lines, $utf8)
    [pscustomobject]@{ Groups = $groups.Count; Commands = $proxies.Count }
}

# ---------------------------------------------------------------------------
# Run time.

function Import-ExchangeProxyModule {
    # Connect -Prefix's part (unprefixed, every command autoloads): one small
    # module of aliases Verb-<Prefix>Noun -> Verb-Noun for the -CommandName
    # commands or all of the product's, imported globally; the proxy sees
    # the alias in $MyInvocation.InvocationName and uses this connection.
    param(
        [Parameter(Mandatory)] [string] $ConnectionId,
        [string] $Prefix,
        [string[]] $CommandName,
        [string] $Organization,
        [ValidateSet('ExchangeOnline', 'SecurityCompliance')] [string] $Product = 'ExchangeOnline',
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Cmdlet
    )
    if (-not $Prefix) { return }
    $names = [ExchangeMfa.CommandCatalog]::Resolve($CommandName, $Product, $Cmdlet)
    # A prefix names one connection: the new one takes it over.
    Remove-ExchangeProxyPrefix -Prefix $Prefix
    # One Set-Alias for all of them, fed Name,Value rows from a CSV: a
    # Set-Alias call per alias costs ~0.6 ms, 1,000 of them most of a second
    # (docs/benchmarks.md).
    $rows = [System.Text.StringBuilder]::new(131072)
    [void]$rows.Append("Name,Value`n")
    $aliases = [System.Collections.Generic.List[string]]::new()
    foreach ($name in $names) {
        $verb, $noun = $name -split '-', 2
        $alias = "$verb-$Prefix$noun"
        $aliases.Add($alias)
        [void]$rows.Append($alias).Append(',').Append($name).Append("`n")
    }
    $text = "# Made by Connect-ExchangeMfa -Prefix $Prefix ($Organization): aliases Verb-$($Prefix)Noun -> Verb-Noun.`n" +
        "param([string] `$Rows)`nConvertFrom-Csv -InputObject `$Rows | Set-Alias`nExport-ModuleMember -Alias *`n"
    $module = Import-ProxyModuleText -Name ([ExchangeMfa.Connections]::ModuleNameOf($Prefix)) -Text $text -ArgumentList $rows.ToString()
    $script:ProxyPrefixes[$Prefix] = [pscustomobject]@{
        Prefix       = $Prefix
        ConnectionId = $ConnectionId
        Module       = $module
        CommandNames = $aliases
    }
    Write-Verbose "Made $($aliases.Count) aliases Verb-$($Prefix)Noun for connection $ConnectionId."
}

function Import-ProxyModuleText {
    # Imports generated module text into the global scope. It goes through a
    # file, as in Microsoft's module: New-Module would also import it into
    # this module's scope, where Remove-Module could not take it back out.
    # The file lives in a fresh owner-only folder for the instant of the
    # import (so nobody can swap it) and is deleted at once.
    param([string] $Name, [string] $Text, [object[]] $ArgumentList)
    $folder = [System.IO.Directory]::CreateTempSubdirectory('exchangemfa-').FullName
    try {
        $path = Join-Path $folder "$Name.psm1"
        [System.IO.File]::WriteAllText($path, $Text, [System.Text.UTF8Encoding]::new($false))
        Import-Module -Name $path -Global -Force -DisableNameChecking -PassThru -ArgumentList $ArgumentList -WarningAction Ignore -Verbose:$false
    }
    finally {
        Remove-Item -LiteralPath $folder -Recurse -Force -ErrorAction Ignore
    }
}

function Remove-ExchangeProxyPrefix {
    # Takes one prefix's aliases away.
    param([string] $Prefix)
    $entry = $script:ProxyPrefixes[$Prefix]
    if (-not $entry) { return }
    Remove-Module -ModuleInfo $entry.Module -Force -ErrorAction Ignore
    $script:ProxyPrefixes.Remove($Prefix)
}

function Remove-ExchangeProxyModule {
    # A closed connection's prefix's aliases go away (Disconnect-ExchangeMfa
    # forgets the rest: Connections.Forget). -All: every prefix's aliases of
    # this runspace (the module is removed, or the helper ended).
    param(
        [string] $ConnectionId,
        [switch] $All
    )
    foreach ($entry in @($script:ProxyPrefixes.Values)) {
        if ($All -or $entry.ConnectionId -eq $ConnectionId) { Remove-ExchangeProxyPrefix -Prefix $entry.Prefix }
    }
}
