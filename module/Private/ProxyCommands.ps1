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

function ConvertTo-QuotedLiteral {
    param([string] $Text)
    "'" + $Text.Replace("'", "''") + "'"
}

function ConvertTo-HelpText {
    # Text safe inside a <# #> block.
    param([string] $Text)
    $Text.Replace('#>', '# >').Replace('<#', '< #')
}

function New-ProxyParameterText {
    # One catalogue parameter -> its attributes, type and name.
    param([Parameter(Mandatory)] [object] $Parameter)
    $lines = [System.Collections.Generic.List[string]]::new()
    $flags = [System.Collections.Generic.List[string]]::new()
    if ($Parameter.mandatory) { $flags.Add('Mandatory = $true') }
    if ($null -ne $Parameter.position) { $flags.Add("Position = $([int]$Parameter.position)") }
    if ($Parameter.valueFromPipeline) { $flags.Add('ValueFromPipeline = $true') }
    if ($Parameter.pipelineByPropertyName) { $flags.Add('ValueFromPipelineByPropertyName = $true') }
    $sets = @($Parameter.sets | Where-Object { $_ })
    if ($sets.Count -eq 0) { $sets = @($null) }
    foreach ($set in $sets) {
        $all = @(if ($set) { "ParameterSetName = $(ConvertTo-QuotedLiteral $set)" }) + $flags
        $lines.Add("        [Parameter($($all -join ', '))]")
    }
    $type = $script:ProxyParameterTypes[[string]$Parameter.type]
    if (-not $type) { throw "Catalogue parameter '$($Parameter.name)' has the unknown type '$($Parameter.type)'." }
    if ($Parameter.values) {
        $lines.Add("        [ValidateSet($((@($Parameter.values) | ForEach-Object { ConvertTo-QuotedLiteral $_ }) -join ', '))]")
    }
    if ($Parameter.type -eq 'unlimited') { $lines.Add("        [ValidatePattern('$script:ResultSizePattern')]") }
    $default = if ($null -ne $Parameter.default) { ' = ' + (ConvertTo-QuotedLiteral ([string]$Parameter.default)) } else { '' }
    $lines.Add("        [$type] `$$($Parameter.name)$default")
    $lines -join "`n"
}

function New-ProxyFunctionText {
    # One catalogue entry -> the text of its proxy function.
    param(
        [Parameter(Mandatory)] [object] $Command,
        [string] $Prefix,
        [string] $Where
    )
    $name = [string]$Command.name
    $functionName = Get-ProxyCommandName -Name $name -Prefix $Prefix
    $text = [System.Text.StringBuilder]::new(4096)
    [void]$text.Append("function $functionName {`n    <#`n    .SYNOPSIS`n    $(ConvertTo-HelpText $Command.synopsis)`n`n")
    [void]$text.Append("    .DESCRIPTION`n    Runs Exchange Online's $name $Where, through Connect-ExchangeMfa's helper.")
    [void]$text.Append(' Result objects stream to the pipeline as they arrive; Exchange warnings become warnings and Exchange errors become error records (ErrorId ExchangeMfa.<name>).')
    if ($Command.changesState) {
        [void]$text.Append(" It changes state: -WhatIf and -Confirm (ConfirmImpact $($Command.confirmImpact)) are honoured before anything is sent.")
    }
    [void]$text.Append("`n    Generated at Connect time from the ExchangeMfa catalogue.`n`n")
    foreach ($parameter in $Command.parameters) {
        $help = ConvertTo-HelpText ([string]$parameter.help)
        if ($parameter.values) { $help += " Values: $(@($parameter.values) -join ', ')." }
        [void]$text.Append("    .PARAMETER $($parameter.name)`n    $help`n`n")
    }
    [void]$text.Append("    .PARAMETER ConnectionId`n    The connection to use instead of the one this command is bound to ($Where).`n`n")
    $example = $functionName
    if ($Command.parameters | Where-Object name -eq 'Identity') { $example += " -Identity user@contoso.onmicrosoft.com" }
    if ($Command.changesState) { $example += ' -WhatIf' }
    [void]$text.Append("    .EXAMPLE`n    PS> $example`n`n    Runs $name$(if ($Command.changesState) { ' without changing anything' }).`n`n")
    [void]$text.Append("    .OUTPUTS`n    $($Command.outputType)`n`n    .LINK`n    Connect-ExchangeMfa`n`n    .LINK`n    Invoke-ExchangeMfaCommand`n    #>`n")

    $binding = [System.Collections.Generic.List[string]]::new()
    if ($Command.defaultParameterSet) { $binding.Add("DefaultParameterSetName = $(ConvertTo-QuotedLiteral $Command.defaultParameterSet)") }
    if ($Command.changesState) {
        $binding.Add('SupportsShouldProcess = $true')
        $binding.Add("ConfirmImpact = $(ConvertTo-QuotedLiteral $Command.confirmImpact)")
    }
    [void]$text.Append("    [CmdletBinding($($binding -join ', '))]`n    [OutputType($(ConvertTo-QuotedLiteral $Command.outputType))]`n    param(`n")
    $parameters = @(foreach ($parameter in $Command.parameters) { New-ProxyParameterText -Parameter $parameter })
    $parameters += "        [ValidateNotNullOrEmpty()]`n        [string] `$ConnectionId"
    [void]$text.Append(($parameters -join ",`n`n"))
    [void]$text.Append("`n    )`n    process { & `$script:InvokeProxy `$PSCmdlet $(ConvertTo-QuotedLiteral $name) `$PSBoundParameters `$script:BoundConnectionId }`n}`n")
    $text.ToString()
}

function New-ProxyModuleText {
    # The whole dynamic module: its state, every function, the exports.
    param(
        [Parameter(Mandatory)] [string[]] $CommandName,
        [string] $Prefix,
        [string] $Where
    )
    $catalog = Get-ExchangeCommandCatalog
    $text = [System.Text.StringBuilder]::new(65536)
    [void]$text.Append("# Generated by ExchangeMfa's Connect-ExchangeMfa from module/Data/ExchangeCommands.json.`n")
    [void]$text.Append("param(`$InvokeProxy, `$BoundConnectionId)`n`$script:InvokeProxy = `$InvokeProxy`n`$script:BoundConnectionId = `$BoundConnectionId`n`n")
    $exports = foreach ($name in $CommandName) {
        [void]$text.Append((New-ProxyFunctionText -Command $catalog[$name] -Prefix $Prefix -Where $Where))
        [void]$text.Append("`n")
        ConvertTo-QuotedLiteral (Get-ProxyCommandName -Name $name -Prefix $Prefix)
    }
    [void]$text.Append("Export-ModuleMember -Function $($exports -join ', ')`n")
    $text.ToString()
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
    $exports = @($names | ForEach-Object { Get-ProxyCommandName -Name $_ -Prefix $Prefix })
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
