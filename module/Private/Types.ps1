# Typed values (Guid, DateTime, integers, sizes with .Value.ToMB()) for the
# members the helper names: compiled code in module/Types/TypedValues.cs,
# built by build.sh into module/bin/ExchangeMfa.Types.dll (docs/exchange.md,
# "Values").

# .NET, not Join-Path: an import that calls no cmdlet loads none of
# PowerShell's own modules (docs/decisions.md, "Import and Connect time").
$script:TypesAssembly = [System.IO.Path]::GetFullPath([System.IO.Path]::Combine($PSScriptRoot, '..', 'bin', 'ExchangeMfa.Types.dll'))
$script:TypesLoaded = $false

# [ExchangeMfa.TypedValues]::Apply($object, $types) converts the members
# named in $types ({"Name":"Kind",...}) in place. Loaded on first use: an
# import that never reads from Exchange pays nothing.
function Import-ExchangeMfaTypes {
    if ($script:TypesLoaded) { return }
    $null = [System.Reflection.Assembly]::LoadFrom($script:TypesAssembly)
    $script:TypesLoaded = $true
}
