# The catalogue of Exchange cmdlets (module/Data/ExchangeCommands.json):
# names, parameters and whether they change state. Proxy commands are made
# from it at Connect time; docs/exchange.md describes the schema.

$script:CatalogPath = Join-Path $PSScriptRoot '../Data/ExchangeCommands.json'
# name -> command entry; loaded once, on the first Connect.
$script:CatalogByName = $null

function Get-ExchangeCommandCatalog {
    # The catalogue as an ordered name -> entry table (case-insensitive).
    if ($null -eq $script:CatalogByName) {
        $document = ConvertFrom-Json -InputObject ([System.IO.File]::ReadAllText($script:CatalogPath))
        if ($document.version -ne 1) { throw "Unsupported catalogue version '$($document.version)' in $script:CatalogPath." }
        $table = [System.Collections.Specialized.OrderedDictionary]::new([System.StringComparer]::OrdinalIgnoreCase)
        foreach ($command in $document.commands) { $table[[string]$command.name] = $command }
        $script:CatalogByName = $table
    }
    $script:CatalogByName
}

function Resolve-ExchangeCommandName {
    # -CommandName values -> catalogue names (canonical spelling). A name
    # the catalogue lacks is an error: a typo should not pass silently.
    param(
        [string[]] $Name,
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Cmdlet
    )
    $catalog = Get-ExchangeCommandCatalog
    if (-not $Name) { return @($catalog.Keys) }
    $unknown = @(foreach ($item in $Name) { if (-not $catalog.Contains($item)) { $item } })
    if ($unknown) {
        $record = New-ExchangeMfaErrorRecord -Name UnknownCommandName -TargetObject $unknown `
            -Message "The catalogue has no command named $($unknown -join ', '). Use Invoke-ExchangeMfaCommand for cmdlets outside the catalogue."
        $Cmdlet.ThrowTerminatingError($record)
    }
    # Canonical names, each once, in the order given.
    $seen = [System.Collections.Generic.HashSet[string]]::new([System.StringComparer]::OrdinalIgnoreCase)
    @(foreach ($item in $Name) { $canonical = [string]$catalog[$item].name; if ($seen.Add($canonical)) { $canonical } })
}
