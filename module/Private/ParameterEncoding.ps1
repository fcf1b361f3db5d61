# Encodes PowerShell parameter values the way the Exchange admin REST
# endpoint expects them (reference/exchange-online.md, section 3): switches
# are booleans, hashtables are Exchange.GenericHashTable, DateTime is UTC
# with seven fractional digits, byte arrays are Exchange.ByteArrayType,
# a SecureString is marked for the helper, which encrypts it with Exchange's
# public key; it stays a SecureString until the helper channel writes its
# plain text to the helper's stdin (docs/exchange.md says why).

function ConvertTo-ExchangeParameterValue {
    param($Value)
    if ($null -eq $Value) { return $null }
    # Unwrap a PSObject, except a PSCustomObject (its base object is empty).
    if ($Value -is [System.Management.Automation.PSObject] -and
        $Value.PSObject.BaseObject -isnot [System.Management.Automation.PSCustomObject]) {
        $Value = $Value.PSObject.BaseObject
    }
    if ($Value -is [System.Management.Automation.SwitchParameter]) { return $Value.IsPresent }
    # Exchange takes the password itself (New-Mailbox -Password), encrypted
    # with its public key: the helper encrypts what this marks; the helper
    # channel writes the plain text into the request line and nowhere else
    # (module/Types/RequestLine.cs, docs/exchange.md).
    if ($Value -is [securestring]) { return [ordered]@{ '@exchangemfa.secureString' = $Value } }
    if ($Value -is [string] -or $Value -is [bool] -or $Value -is [int] -or $Value -is [long] -or
        $Value -is [double] -or $Value -is [decimal]) { return $Value }
    if ($Value -is [datetime]) {
        return $Value.ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ss.fffffffZ', [cultureinfo]::InvariantCulture)
    }
    if ($Value -is [datetimeoffset]) {
        return $Value.UtcDateTime.ToString('yyyy-MM-ddTHH:mm:ss.fffffffZ', [cultureinfo]::InvariantCulture)
    }
    if ($Value -is [byte[]]) {
        return [ordered]@{ '@odata.type' = '#Exchange.ByteArrayType'; Data = [Convert]::ToBase64String($Value) }
    }
    if ($Value -is [System.Collections.IDictionary]) {
        $table = [ordered]@{ '@odata.type' = '#Exchange.GenericHashTable' }
        foreach ($key in $Value.Keys) { $table[[string]$key] = ConvertTo-ExchangeParameterValue $Value[$key] }
        return $table
    }
    if ($Value -is [System.Collections.IEnumerable]) {
        return , @(foreach ($item in $Value) { ConvertTo-ExchangeParameterValue $item })
    }
    if ($Value -is [System.Management.Automation.PSCustomObject]) {
        # An object from an earlier Exchange command stands for its identity.
        foreach ($name in 'Identity', 'Guid', 'Name') {
            if ($null -ne $Value.$name) { return [string]$Value.$name }
        }
    }
    if ($Value -is [enum] -or $Value -is [guid]) { return [string]$Value }
    if ($Value -is [System.ValueType]) { return $Value }
    [string]$Value
}

function ConvertTo-ExchangeParameterSet {
    # A hashtable of cmdlet parameters -> the `parameters` object of invoke.
    param([System.Collections.IDictionary] $Parameters)
    $encoded = [ordered]@{}
    if (-not $Parameters) { return $encoded }
    foreach ($key in $Parameters.Keys) {
        $name = [string]$key
        $value = ConvertTo-ExchangeParameterValue $Parameters[$key]
        $encoded[$name] = $value
        if ($value -is [array] -and $value.Count -gt 0 -and
            @($value | Where-Object { $_ -is [System.Collections.IDictionary] }).Count -eq $value.Count) {
            $encoded["$name@odata.type"] = '#Collection(Exchange.GenericHashTable)'
        }
    }
    $encoded
}
