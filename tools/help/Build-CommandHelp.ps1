# Writes the MAML help of the module's commands from docs/commands/<Name>.md.
# Compiled cmdlets cannot carry comment-based help: Get-Help reads
# <ModuleBase>/en-US/<assembly>-Help.xml, and MAML must spell out syntax and
# parameters itself. The markdown holds the words only; types, parameter
# sets, positions, mandatory, pipeline input and aliases come from the
# command's own metadata (Get-Command), so they are written down once.
#
#   pwsh -NoProfile -File tools/help/Build-CommandHelp.ps1 -Manifest ExchangeMfa.psd1 -Source docs/commands -OutFile module/en-US/ExchangeMfa.Types.dll-Help.xml
#
# The markdown is PlatyPS's layout without its yaml blocks and SYNTAX section:
#   # Name, ## SYNOPSIS, ## DESCRIPTION,
#   ## EXAMPLES: ### Example N: title, a ```powershell block, remarks,
#   ## PARAMETERS: ### -Name, its description, optionally a last line "Default value: x",
#   ## INPUTS, ## OUTPUTS: ### TypeName, text,
#   ## NOTES, ## RELATED LINKS: one [text](uri), name or address a paragraph.
# Text is CommonMark-escaped (\< for <); paragraphs are split on blank lines.
#
# Fails, naming every problem, when a markdown file names a command the
# module does not export, an exported command has no markdown file, a
# visible parameter has no description, or the markdown describes a
# parameter the command does not have (or hides with DontShow).
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $Manifest,
    [Parameter(Mandatory)] [string] $Source,
    [Parameter(Mandatory)] [string] $OutFile
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

$sections = 'SYNOPSIS', 'DESCRIPTION', 'EXAMPLES', 'PARAMETERS', 'INPUTS', 'OUTPUTS', 'NOTES', 'RELATED LINKS'
$ns = @{
    maml    = 'http://schemas.microsoft.com/maml/2004/10'
    command = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
    dev     = 'http://schemas.microsoft.com/maml/dev/2004/10'
}
# Not described in the markdown: PowerShell adds them and says what they do.
$common = [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters
# SupportsShouldProcess's two are shown in the syntax, as PowerShell's own
# help does; their words are the usual ones unless the markdown has its own.
$shouldProcess = [ordered]@{
    WhatIf  = 'Shows what would happen if the cmdlet runs. The cmdlet is not run.'
    Confirm = 'Prompts you for confirmation before running the cmdlet.'
}

function Read-CommandMarkdown([string] $Path) {
    # -> @{ Name; Sections = @{ NAME = list of @{ Heading; Lines } } }: the
    # text under each ## heading, cut at its ### headings.
    $doc = @{ Name = $null; Sections = @{}; Problems = [System.Collections.Generic.List[string]]::new() }
    $blocks = $null
    $fenced = $false
    foreach ($line in [System.IO.File]::ReadAllLines($Path)) {
        if (-not $fenced -and $line -match '^(#{1,3}) +(.+?) *$') {
            $level, $title = $Matches[1].Length, $Matches[2]
            if ($level -eq 1) { $doc.Name = $title; continue }
            if ($level -eq 2) {
                if ($title -notin $sections) { $doc.Problems.Add("unknown section '## $title' (known: $($sections -join ', '))") }
                $blocks = $doc.Sections[$title] = [System.Collections.Generic.List[object]]::new()
                $blocks.Add(@{ Heading = $null; Lines = [System.Collections.Generic.List[string]]::new() })
                continue
            }
            if ($blocks) { $blocks.Add(@{ Heading = $title; Lines = [System.Collections.Generic.List[string]]::new() }); continue }
        }
        if ($line -match '^\s*```') { $fenced = -not $fenced }
        if ($blocks) { $blocks[-1].Lines.Add($line) }
        elseif ($line.Trim()) { $doc.Problems.Add("text before the first section: '$line'") }
    }
    $doc
}

function ConvertFrom-MarkdownText([string] $Text) {
    # CommonMark's backslash escapes: \ before ASCII punctuation is literal.
    [regex]::Replace($Text, '\\([!-/:-@\[-`{-~])', '$1')
}

function Get-Paragraph($Lines) {
    # Blank-line separated paragraphs, unescaped; a paragraph keeps its line
    # breaks, so lists and wrapped text read as written.
    $text = (@($Lines) -join "`n").Trim()
    if (-not $text) { return @() }
    @($text -split '\n\s*\n' | ForEach-Object { ConvertFrom-MarkdownText (($_ -split '\n' | ForEach-Object TrimEnd) -join "`n") })
}

function Get-Body($Doc, [string] $Section) {
    # The text of a section without ### parts.
    if (-not $Doc.Sections.Contains($Section)) { return @() }
    Get-Paragraph $Doc.Sections[$Section][0].Lines
}

function Get-Part($Doc, [string] $Section) {
    # The ### parts of a section.
    if (-not $Doc.Sections.Contains($Section)) { return @() }
    @($Doc.Sections[$Section] | Select-Object -Skip 1)
}

function Test-Visible($Parameter) {
    $Parameter.Name -notin $common -and -not @($Parameter.Attributes | Where-Object { $_ -is [Parameter] -and $_.DontShow })
}

function Get-PipelineInput($Parameters) {
    $how = @(
        if (@($Parameters | Where-Object ValueFromPipeline)) { 'ByValue' }
        if (@($Parameters | Where-Object ValueFromPipelineByPropertyName)) { 'ByPropertyName' }
    )
    if ($how) { "True ($($how -join ', '))" } else { 'False' }
}

function Write-Para($Writer, [string] $Element, $Paragraphs) {
    # <maml:description> (or another element) holding one <maml:para> each.
    $prefix, $localName = $Element -split ':'
    $Writer.WriteStartElement($prefix, $localName, $ns[$prefix])
    foreach ($para in @($Paragraphs)) { $Writer.WriteElementString('maml', 'para', $ns.maml, $para) }
    $Writer.WriteEndElement()
}

function Write-Type($Writer, [string] $Name) {
    $Writer.WriteStartElement('dev', 'type', $ns.dev)
    $Writer.WriteElementString('maml', 'name', $ns.maml, $Name)
    $Writer.WriteEndElement()
}

function Get-ParameterFact([string] $Name, $InSets, $Metadata) {
    # What the help says of a parameter, from its metadata in the given sets
    # (one set for a syntax line, all for the parameter list): required when
    # mandatory in any, its first position, every way it takes pipeline input.
    $positioned = @($InSets | Where-Object Position -ge 0)
    @{
        Name          = $Name
        Type          = $Metadata.ParameterType
        Required      = [bool]@($InSets | Where-Object IsMandatory)
        Position      = if ($positioned) { [string]$positioned[0].Position } else { 'named' }
        PipelineInput = Get-PipelineInput $InSets
        Aliases       = if ($Metadata.Aliases.Count) { $Metadata.Aliases -join ', ' } else { 'none' }
        Globbing      = [bool]@($Metadata.Attributes | Where-Object { $_ -is [SupportsWildcards] })
    }
}

function Write-Parameter($Writer, $Fact, $Text) {
    # With $Text (description, default): an entry of the parameter list;
    # without: a parameter of a syntax line.
    $lower = { param($value) $value.ToString().ToLowerInvariant() }
    $Writer.WriteStartElement('command', 'parameter', $ns.command)
    $Writer.WriteAttributeString('required', (& $lower $Fact.Required))
    $Writer.WriteAttributeString('variableLength', (& $lower $Fact.Type.IsArray))
    $Writer.WriteAttributeString('globbing', (& $lower $Fact.Globbing))
    $Writer.WriteAttributeString('pipelineInput', $Fact.PipelineInput)
    $Writer.WriteAttributeString('position', $Fact.Position)
    $Writer.WriteAttributeString('aliases', $Fact.Aliases)
    $Writer.WriteElementString('maml', 'name', $ns.maml, $Fact.Name)
    if ($Text) { Write-Para $Writer 'maml:description' $Text.Description }
    # A switch has no value in a syntax line ([-Device]); the parameter list
    # shows it as PowerShell's own help does (-Device [<SwitchParameter>]).
    $isSwitch = $Fact.Type -eq [switch]
    if ($Text -or -not $isSwitch) {
        $Writer.WriteStartElement('command', 'parameterValue', $ns.command)
        $Writer.WriteAttributeString('required', (& $lower (-not $isSwitch)))
        $Writer.WriteAttributeString('variableLength', (& $lower $Fact.Type.IsArray))
        $Writer.WriteString($Fact.Type.Name)
        $Writer.WriteEndElement()
    }
    Write-Type $Writer $Fact.Type.FullName
    if ($Text) { $Writer.WriteElementString('dev', 'defaultValue', $ns.dev, $Text.Default) }
    $Writer.WriteEndElement()
}

function Write-TypeList($Writer, [string] $Outer, [string] $Inner, $Parts) {
    $Writer.WriteStartElement('command', $Outer, $ns.command)
    foreach ($part in $Parts) {
        $Writer.WriteStartElement('command', $Inner, $ns.command)
        Write-Type $Writer (ConvertFrom-MarkdownText $part.Heading)
        Write-Para $Writer 'maml:description' (Get-Paragraph $part.Lines)
        $Writer.WriteEndElement()
    }
    $Writer.WriteEndElement()
}

function Write-Command($Writer, $Command, $Doc, $Described) {
    $verb, $noun = $Command.Name -split '-', 2
    $Writer.WriteStartElement('command', 'command', $ns.command)
    foreach ($prefix in 'maml', 'command', 'dev') { $Writer.WriteAttributeString('xmlns', $prefix, $null, $ns[$prefix]) }

    $Writer.WriteStartElement('command', 'details', $ns.command)
    $Writer.WriteElementString('command', 'name', $ns.command, $Command.Name)
    $Writer.WriteElementString('command', 'verb', $ns.command, $verb)
    $Writer.WriteElementString('command', 'noun', $ns.command, $noun)
    Write-Para $Writer 'maml:description' (Get-Body $Doc 'SYNOPSIS')
    $Writer.WriteEndElement()
    Write-Para $Writer 'maml:description' (Get-Body $Doc 'DESCRIPTION')

    # One syntax line per parameter set, the default one first; in each,
    # the positional parameters by position, then the rest as declared.
    $sets = @($Command.ParameterSets | Sort-Object { -not $_.IsDefault } -Stable)
    $Writer.WriteStartElement('command', 'syntax', $ns.command)
    foreach ($set in $sets) {
        $Writer.WriteStartElement('command', 'syntaxItem', $ns.command)
        $Writer.WriteElementString('maml', 'name', $ns.maml, $Command.Name)
        $shown = @($set.Parameters | Where-Object { $Described.Contains($_.Name) } |
                Sort-Object { if ($_.Position -ge 0) { $_.Position } else { [int]::MaxValue } } -Stable)
        foreach ($p in $shown) { Write-Parameter $Writer (Get-ParameterFact $p.Name $p $Command.Parameters[$p.Name]) }
        $Writer.WriteEndElement()
    }
    $Writer.WriteEndElement()

    # Each described parameter once, merged over its sets.
    $Writer.WriteStartElement('command', 'parameters', $ns.command)
    foreach ($name in $Described.Keys) {
        $inSets = @($sets | ForEach-Object { $_.Parameters | Where-Object Name -eq $name })
        Write-Parameter $Writer (Get-ParameterFact $name $inSets $Command.Parameters[$name]) $Described[$name]
    }
    $Writer.WriteEndElement()

    Write-TypeList $Writer 'inputTypes' 'inputType' (Get-Part $Doc 'INPUTS')
    Write-TypeList $Writer 'returnValues' 'returnValue' (Get-Part $Doc 'OUTPUTS')

    $notes = Get-Body $Doc 'NOTES'
    if ($notes) {
        $Writer.WriteStartElement('maml', 'alertSet', $ns.maml)
        Write-Para $Writer 'maml:alert' $notes
        $Writer.WriteEndElement()
    }

    $Writer.WriteStartElement('command', 'examples', $ns.command)
    foreach ($example in Get-Part $Doc 'EXAMPLES') {
        # The fenced block is the code; the paragraphs after it the remarks.
        $lines = @($example.Lines)
        $fences = @(for ($i = 0; $i -lt $lines.Count; $i++) { if ($lines[$i] -match '^\s*```') { $i } })
        $Writer.WriteStartElement('command', 'example', $ns.command)
        # Dashes, as in Microsoft's help, so that each example stands out.
        $Writer.WriteElementString('maml', 'title', $ns.maml, "---------- $(ConvertFrom-MarkdownText $example.Heading) ----------")
        $code = if ($fences.Count -ge 2) { $lines[($fences[0] + 1)..($fences[1] - 1)] -join "`n" } else { '' }
        $Writer.WriteElementString('dev', 'code', $ns.dev, $code)
        $remarks = if ($fences.Count -ge 2) { Get-Paragraph $lines[($fences[1] + 1)..($lines.Count - 1)] } else { Get-Paragraph $lines }
        # The empty paragraph is the blank line before the next example's title.
        Write-Para $Writer 'dev:remarks' (@($remarks) + '')
        $Writer.WriteEndElement()
    }
    $Writer.WriteEndElement()

    $Writer.WriteStartElement('command', 'relatedLinks', $ns.command)
    foreach ($link in Get-Body $Doc 'RELATED LINKS') {
        # [text](target), or a bare name or address. Only an absolute address
        # is a uri; a name (or a link to its .md file) is found by Get-Help.
        $text, $target = if ($link -match '^\[(.*)\]\((.*)\)$') { $Matches[1], $Matches[2] } else { $link, $link }
        $isUri = $target -match '^https?://'
        if ($isUri -and $text -eq $target) { $text = '' }
        $Writer.WriteStartElement('maml', 'navigationLink', $ns.maml)
        $Writer.WriteElementString('maml', 'linkText', $ns.maml, $text)
        $Writer.WriteElementString('maml', 'uri', $ns.maml, $(if ($isUri) { $target } else { '' }))
        $Writer.WriteEndElement()
    }
    $Writer.WriteEndElement()

    $Writer.WriteEndElement()
}

$module = Import-Module -Name ([System.IO.Path]::GetFullPath($Manifest)) -PassThru -Force
$commands = @{}
foreach ($command in $module.ExportedCommands.Values) {
    if ($command.CommandType -in 'Cmdlet', 'Function') { $commands[$command.Name] = $command }
}

$problems = [System.Collections.Generic.List[string]]::new()
$docs = [ordered]@{}
foreach ($file in Get-ChildItem -LiteralPath $Source -Filter *.md | Sort-Object Name) {
    $doc = Read-CommandMarkdown $file.FullName
    foreach ($problem in $doc.Problems) { $problems.Add("$($file.Name): $problem") }
    if ($doc.Name -ne $file.BaseName) { $problems.Add("$($file.Name): its '# ' heading must be the command name, '$($file.BaseName)'") }
    elseif (-not $commands.ContainsKey($doc.Name)) { $problems.Add("$($file.Name): the module does not export a command named '$($doc.Name)'") }
    else { $docs[$doc.Name] = $doc }
}
foreach ($name in $commands.Keys | Sort-Object) {
    if (-not $docs.Contains($name) -and -not (Test-Path -LiteralPath (Join-Path $Source "$name.md"))) {
        $problems.Add("$name.md: missing; the module exports $name, and every command needs its help")
    }
}

# Per command: the parameters to describe, in the markdown's order, each
# with its paragraphs and default value.
$described = @{}
foreach ($name in $docs.Keys) {
    $command = $commands[$name]
    $doc = $docs[$name]
    $file = "$name.md"
    if (-not (Get-Body $doc 'SYNOPSIS')) { $problems.Add("${file}: no SYNOPSIS") }
    if (-not (Get-Body $doc 'DESCRIPTION')) { $problems.Add("${file}: no DESCRIPTION") }
    $visible = @($command.Parameters.Values | Where-Object { Test-Visible $_ } | ForEach-Object Name)
    $texts = [ordered]@{}
    foreach ($part in Get-Part $doc 'PARAMETERS') {
        $parameterName = $part.Heading -replace '^-', ''
        if (-not $command.Parameters.ContainsKey($parameterName)) { $problems.Add("${file}: describes -$parameterName, which $name does not have"); continue }
        if ($parameterName -notin $visible -and -not $shouldProcess.Contains($parameterName)) { $problems.Add("${file}: describes -$parameterName, which $name hides (DontShow) or PowerShell adds"); continue }
        $paragraphs = @(Get-Paragraph $part.Lines)
        $default = 'None'
        if ($paragraphs -and $paragraphs[-1] -match '^Default value: (.+)$') {
            $default = $Matches[1]
            $paragraphs = @($paragraphs | Select-Object -SkipLast 1)
        }
        if (-not $paragraphs) { $problems.Add("${file}: -$parameterName has no description"); continue }
        $texts[$command.Parameters[$parameterName].Name] = @{ Description = $paragraphs; Default = $default }
    }
    $headings = @(Get-Part $doc 'PARAMETERS' | ForEach-Object Heading)
    foreach ($parameterName in $visible) {
        if ("-$parameterName" -notin $headings) {
            $problems.Add("${file}: -$parameterName has no description (add '### -$parameterName' under '## PARAMETERS')")
        }
    }
    foreach ($parameterName in $shouldProcess.Keys) {
        if ($command.Parameters.ContainsKey($parameterName) -and -not $texts.Contains($parameterName)) {
            $texts[$parameterName] = @{ Description = @($shouldProcess[$parameterName]); Default = 'False' }
        }
    }
    $described[$name] = $texts
}

if ($problems.Count) {
    # A terminating error of this script rather than a bare throw: pwsh -File
    # prints it as plain lines (exit code 1), and a caller can catch it.
    $message = "The command help in $Source is incomplete; nothing was written:`n  $($problems -join "`n  ")"
    $PSCmdlet.ThrowTerminatingError([System.Management.Automation.ErrorRecord]::new(
            [System.InvalidOperationException]::new($message), 'CommandHelpIncomplete', 'InvalidData', $Source))
}

# Written beside the target and renamed over it: a reader never sees half a
# file, and a failed run leaves the previous help whole.
$OutFile = [System.IO.Path]::GetFullPath($OutFile)
$null = New-Item -ItemType Directory -Force -Path (Split-Path $OutFile)
$temporary = "$OutFile.$PID.tmp"
$settings = [System.Xml.XmlWriterSettings]@{ Indent = $true; Encoding = [System.Text.UTF8Encoding]::new($false) }
try {
    $writer = [System.Xml.XmlWriter]::Create($temporary, $settings)
    try {
        $writer.WriteStartDocument()
        $writer.WriteStartElement('helpItems', 'http://msh')
        $writer.WriteAttributeString('schema', 'maml')
        foreach ($name in $docs.Keys) { Write-Command $writer $commands[$name] $docs[$name] $described[$name] }
        $writer.WriteEndElement()
        $writer.WriteEndDocument()
    }
    finally { $writer.Dispose() }
    [System.IO.File]::Move($temporary, $OutFile, $true)
}
finally { Remove-Item -LiteralPath $temporary -ErrorAction Ignore }
"Help for $($docs.Count) commands in $OutFile"
