# Proxy commands for the Exchange cmdlets, made from the catalogue at Connect
# time like Microsoft's module does: one dynamic module a prefix holding one
# function a cmdlet. Each function is only a real param block (so binding,
# validation, -WhatIf/-Confirm, tab completion and Get-Help are PowerShell's
# own) and one call to Invoke-ExchangeProxyCommand, the single
# implementation they all share. docs/exchange.md has the details.

# prefix ('' = none) -> @{ Prefix; Module; ConnectionIds; CommandNames }
$script:ProxyModules = @{}

# Catalogue type -> the PowerShell type of the generated parameter.
$script:ProxyParameterTypes = @{
    'string' = 'string'; 'string[]' = 'string[]'; 'int' = 'int'; 'long' = 'long'; 'bool' = 'bool'
    'switch' = 'switch'; 'datetime' = 'datetime'; 'guid' = 'guid'; 'hashtable' = 'hashtable'
    'hashtable[]' = 'hashtable[]'; 'byte[]' = 'byte[]'; 'securestring' = 'securestring'
    'unlimited' = 'string'; 'enum' = 'string'; 'object' = 'object'
}

# Parameters of a proxy that are PowerShell's or the module's, never Exchange's.
$script:ProxyLocalParameters = [System.Collections.Generic.HashSet[string]]::new(
    [string[]]([System.Management.Automation.PSCmdlet]::CommonParameters +
        [System.Management.Automation.PSCmdlet]::OptionalCommonParameters + 'ConnectionId'),
    [System.StringComparer]::OrdinalIgnoreCase)

$script:ResultSizePattern = '^(Unlimited|[1-9][0-9]{0,9})$'

function Get-ProxyModuleName {
    param([string] $Prefix)
    if ($Prefix) { "ExchangeMfa.Commands.$Prefix" } else { 'ExchangeMfa.Commands' }
}

function Get-ProxyCommandName {
    # Get-Mailbox + Contoso -> Get-ContosoMailbox, like Microsoft's -Prefix.
    param([string] $Name, [string] $Prefix)
    $verb, $noun = $Name -split '-', 2
    "$verb-$Prefix$noun"
}

# The generator runs for every parameter of every catalogue command on the
# first Connect, so it stays in foreach statements, expandable strings and
# .NET methods: per-item cmdlets and function calls were most of Connect's
# time. Quoted literals double their single quotes (.Replace("'", "''")).

function Add-ProxyFunctionText {
    # One catalogue entry -> the text of its proxy function.
    param(
        [Parameter(Mandatory)] [System.Text.StringBuilder] $Text,
        [Parameter(Mandatory)] [object] $Command,
        [string] $Prefix,
        [string] $Where
    )
    $name = [string]$Command.name
    $verb, $noun = $name -split '-', 2
    $functionName = "$verb-$Prefix$noun"
    $changesState = [bool]$Command.changesState
    # Help text must not close the <# #> block.
    $synopsis = ([string]$Command.synopsis).Replace('#>', '# >').Replace('<#', '< #')
    $impact = if ($changesState) { " It changes state: -WhatIf and -Confirm (ConfirmImpact $($Command.confirmImpact)) are honoured before anything is sent." }
    [void]$Text.Append("function $functionName {`n    <#`n    .SYNOPSIS`n    $synopsis`n`n    .DESCRIPTION`n    Runs Exchange Online's $name $Where, through Connect-ExchangeMfa's helper. Result objects stream to the pipeline as they arrive; Exchange warnings become warnings and Exchange errors become error records (ErrorId ExchangeMfa.<name>).$impact`n    Generated at Connect time from the ExchangeMfa catalogue.`n`n")
    $example = $functionName
    foreach ($parameter in $Command.parameters) {
        if ($parameter.name -eq 'Identity') { $example = "$functionName -Identity user@contoso.onmicrosoft.com" }
        $help = ([string]$parameter.help).Replace('#>', '# >').Replace('<#', '< #')
        if ($parameter.values) { $help += " Values: $(@($parameter.values) -join ', ')." }
        [void]$Text.Append("    .PARAMETER $($parameter.name)`n    $help`n`n")
    }
    $runs = $name
    if ($changesState) {
        $example += ' -WhatIf'
        $runs += ' without changing anything'
    }
    [void]$Text.Append("    .PARAMETER ConnectionId`n    The connection to use instead of the one this command is bound to ($Where).`n`n    .EXAMPLE`n    PS> $example`n`n    Runs $runs.`n`n    .OUTPUTS`n    $($Command.outputType)`n`n    .LINK`n    Connect-ExchangeMfa`n`n    .LINK`n    Invoke-ExchangeMfaCommand`n    #>`n")

    $binding = if ($Command.defaultParameterSet) { "DefaultParameterSetName = '$(([string]$Command.defaultParameterSet).Replace("'", "''"))'" } else { '' }
    if ($changesState) {
        if ($binding) { $binding += ', ' }
        $binding += "SupportsShouldProcess = `$true, ConfirmImpact = '$(([string]$Command.confirmImpact).Replace("'", "''"))'"
    }
    [void]$Text.Append("    [CmdletBinding($binding)]`n    [OutputType('$(([string]$Command.outputType).Replace("'", "''"))')]`n    param(`n")
    foreach ($parameter in $Command.parameters) {
        # Attributes, type, name and default of one catalogue parameter.
        $flags = ''
        if ($parameter.mandatory) { $flags += ', Mandatory = $true' }
        if ($null -ne $parameter.position) { $flags += ", Position = $([int]$parameter.position)" }
        if ($parameter.valueFromPipeline) { $flags += ', ValueFromPipeline = $true' }
        if ($parameter.pipelineByPropertyName) { $flags += ', ValueFromPipelineByPropertyName = $true' }
        $inSet = $false
        foreach ($set in $parameter.sets) {
            if (-not $set) { continue }
            $inSet = $true
            [void]$Text.Append("        [Parameter(ParameterSetName = '$(([string]$set).Replace("'", "''"))'$flags)]`n")
        }
        if (-not $inSet) {
            # In no set: the flags alone, without their leading ', '.
            [void]$Text.Append("        [Parameter($(if ($flags) { $flags.Substring(2) }))]`n")
        }
        $type = $script:ProxyParameterTypes[[string]$parameter.type]
        if (-not $type) { throw "Catalogue parameter '$($parameter.name)' has the unknown type '$($parameter.type)'." }
        if ($parameter.values) {
            $values = foreach ($value in @($parameter.values)) { "'" + ([string]$value).Replace("'", "''") + "'" }
            [void]$Text.Append("        [ValidateSet($($values -join ', '))]`n")
        }
        if ($parameter.type -eq 'unlimited') { [void]$Text.Append("        [ValidatePattern('$script:ResultSizePattern')]`n") }
        $default = if ($null -ne $parameter.default) { " = '$(([string]$parameter.default).Replace("'", "''"))'" }
        [void]$Text.Append("        [$type] `$$($parameter.name)$default,`n`n")
    }
    [void]$Text.Append("        [ValidateNotNullOrEmpty()]`n        [string] `$ConnectionId`n    )`n    process { & `$script:InvokeProxy `$PSCmdlet '$($name.Replace("'", "''"))' `$PSBoundParameters `$script:BoundConnectionId }`n}`n")
}

# (prefix, where, command names) -> generated module text. The catalogue is
# read once a session, so the same key always gives the same text: a
# reconnect (Disconnect, Connect) imports it again without regenerating.
$script:ProxyModuleTexts = [System.Collections.Generic.Dictionary[string, string]]::new([System.StringComparer]::Ordinal)

function New-ProxyModuleText {
    # The whole dynamic module: its state, every function, the exports.
    param(
        [Parameter(Mandatory)] [string[]] $CommandName,
        [string] $Prefix,
        [string] $Where
    )
    $key = [string]::Join("`n", [string[]](@($Prefix, $Where) + $CommandName))
    $cached = $null
    if ($script:ProxyModuleTexts.TryGetValue($key, [ref]$cached)) { return $cached }

    $catalog = Get-ExchangeCommandCatalog
    $text = [System.Text.StringBuilder]::new(262144)
    [void]$text.Append("# Generated by ExchangeMfa's Connect-ExchangeMfa from module/Data/ExchangeCommands.json.`n")
    [void]$text.Append("param(`$InvokeProxy, `$BoundConnectionId)`n`$script:InvokeProxy = `$InvokeProxy`n`$script:BoundConnectionId = `$BoundConnectionId`n`n")
    $exports = [System.Collections.Generic.List[string]]::new()
    foreach ($name in $CommandName) {
        Add-ProxyFunctionText -Text $text -Command $catalog[$name] -Prefix $Prefix -Where $Where
        [void]$text.Append("`n")
        $verb, $noun = $name -split '-', 2
        $exports.Add("'" + "$verb-$Prefix$noun".Replace("'", "''") + "'")
    }
    [void]$text.Append('Export-ModuleMember -Function ').Append([string]::Join(', ', $exports)).Append("`n")
    $result = $text.ToString()
    # A session connects with a handful of prefixes; keep it bounded anyway.
    if ($script:ProxyModuleTexts.Count -ge 16) { $script:ProxyModuleTexts.Clear() }
    $script:ProxyModuleTexts[$key] = $result
    $result
}

function Import-ExchangeProxyModule {
    # Makes (or remakes) the proxy module of a prefix and imports it into the
    # global scope. Without a prefix the commands follow the default
    # connection; with one they are bound to this connection.
    param(
        [Parameter(Mandatory)] [string] $ConnectionId,
        [string] $Prefix,
        [string[]] $CommandName,
        [string] $Organization,
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Cmdlet
    )
    $names = Resolve-ExchangeCommandName -Name $CommandName -Cmdlet $Cmdlet
    $moduleName = Get-ProxyModuleName -Prefix $Prefix
    $key = [string]$Prefix
    $connections = [System.Collections.Generic.List[string]]::new()
    $previous = $script:ProxyModules[$key]
    if ($previous) {
        # Unprefixed commands serve every unprefixed connection; a prefix
        # names one connection, so the new one takes it over.
        if (-not $Prefix) { $connections.AddRange($previous.ConnectionIds) }
        Remove-Module -ModuleInfo $previous.Module -Force -ErrorAction Ignore
        $script:ProxyModules.Remove($key)
    }
    $connections.Add($ConnectionId)

    $where = if ($Prefix) { "on the connection opened with -Prefix $Prefix ($Organization)" } else { 'on the default connection' }
    $bound = if ($Prefix) { $ConnectionId } else { '' }
    $exports = @(foreach ($name in $names) { Get-ProxyCommandName -Name $name -Prefix $Prefix })
    $module = Import-ProxyModuleText -Name $moduleName -Text (New-ProxyModuleText -CommandName $names -Prefix $Prefix -Where $where) `
        -ArgumentList ${function:Invoke-ExchangeProxyCommand}, $bound
    $script:ProxyModules[$key] = [pscustomobject]@{
        Prefix        = $key
        Module        = $module
        ConnectionIds = $connections
        CommandNames  = $exports
    }
    Write-Verbose "Imported $($exports.Count) Exchange commands as module $moduleName."
}

function Import-ProxyModuleText {
    # Imports generated module text into the global scope. It goes through a
    # file, as in Microsoft's module: New-Module would also import it into
    # this module's scope, where Remove-Module could not take it back out.
    # The file lives in a fresh owner-only folder for the instant of the
    # import (so nobody can swap it) and is deleted at once.
    param([string] $Name, [string] $Text, [object[]] $ArgumentList)
    $folder = if ([System.IO.Directory].GetMethod('CreateTempSubdirectory')) {
        [System.IO.Directory]::CreateTempSubdirectory('exchangemfa-').FullName
    }
    else {
        (New-Item -ItemType Directory -Path (Join-Path ([System.IO.Path]::GetTempPath()) "exchangemfa-$([guid]::NewGuid().ToString('n'))")).FullName
    }
    try {
        $path = Join-Path $folder "$Name.psm1"
        [System.IO.File]::WriteAllText($path, $Text, [System.Text.UTF8Encoding]::new($false))
        Import-Module -Name $path -Global -Force -DisableNameChecking -PassThru -ArgumentList $ArgumentList -WarningAction Ignore -Verbose:$false
    }
    finally {
        Remove-Item -LiteralPath $folder -Recurse -Force -ErrorAction Ignore
    }
}

function Remove-ExchangeProxyModule {
    # Forgets a closed connection; a proxy module with no connection left
    # goes away. -All: every proxy module (the helper stopped).
    param(
        [string] $ConnectionId,
        [switch] $All
    )
    foreach ($key in @($script:ProxyModules.Keys)) {
        $entry = $script:ProxyModules[$key]
        if (-not $All) { [void]$entry.ConnectionIds.Remove($ConnectionId) }
        if ($All -or $entry.ConnectionIds.Count -eq 0) {
            Remove-Module -ModuleInfo $entry.Module -Force -ErrorAction Ignore
            $script:ProxyModules.Remove($key)
        }
    }
}

function Get-ExchangeProxyPrefix {
    # The prefix whose commands are bound to a connection ('' for the
    # unprefixed ones, $null when it has none).
    param([string] $ConnectionId)
    foreach ($entry in $script:ProxyModules.Values) {
        if ($entry.ConnectionIds.Contains($ConnectionId)) { return $entry.Prefix }
    }
    $null
}

function Invoke-ExchangeProxyCommand {
    # The one implementation behind every proxy: bound parameters -> invoke.
    # Positional and untyped on purpose: it runs once per pipeline input.
    param($Cmdlet, $Name, $Bound, $BoundConnectionId)
    $command = $script:CatalogByName[$Name]
    $parameters = [ordered]@{}
    foreach ($key in $Bound.Keys) {
        if (-not $script:ProxyLocalParameters.Contains($key)) { $parameters[$key] = $Bound[$key] }
    }
    # ResultSize goes to the helper too (it stops after that many objects);
    # a default the user did not type is not in $PSBoundParameters.
    $resultSize = $null
    foreach ($parameter in $command.parameters) {
        if ($parameter.type -ne 'unlimited') { continue }
        if ($parameters.Contains($parameter.name)) {
            $resultSize = [string]$parameters[$parameter.name]
            $parameters.Remove($parameter.name)
        }
        elseif ($null -ne $parameter.default) { $resultSize = [string]$parameter.default }
    }
    $target = $Name
    foreach ($field in 'Identity', 'Name', 'DisplayName', 'Mailbox', 'MessageTraceId') {
        if ($parameters.Contains($field)) { $target = $parameters[$field]; break }
    }
    if ($command.changesState -and -not $Cmdlet.ShouldProcess([string]$target, $Name)) { return }
    $connectionId = if ($Bound.ContainsKey('ConnectionId')) { $Bound['ConnectionId'] } else { $BoundConnectionId }
    Invoke-ExchangeMfaStream -Cmdlet $Cmdlet -CmdletName $Name -Parameters $parameters -ResultSize $resultSize `
        -ConnectionId $connectionId -TargetObject $target -TypeName $command.outputType
}
