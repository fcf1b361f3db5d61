# Typed values for what Exchange writes as text (issue 10). The helper names
# the members that carry a type hint ("X@data.type": "System.Guid", ...) or
# a size ("99 GB (106,300,440,576 bytes)", "Unlimited"); only those members
# are converted, so untyped objects cost nothing here.

# A size as Exchange's ByteQuantifiedSize: ToBytes/ToKB/ToMB/ToGB/ToTB
# (whole units, rounded down), comparable, shown as Exchange wrote it.
class ExchangeMfaByteQuantifiedSize : System.IComparable {
    hidden [uint64] $Bytes
    hidden [string] $Text

    ExchangeMfaByteQuantifiedSize([string] $text) {
        $this.Text = $text
        $open = $text.LastIndexOf('(')
        $this.Bytes = [uint64]::Parse($text.Substring($open + 1).Replace(' bytes)', ''),
            [System.Globalization.NumberStyles]::AllowThousands, [cultureinfo]::InvariantCulture)
    }

    [uint64] ToBytes() { return $this.Bytes }
    [uint64] ToKB() { return [math]::Floor($this.Bytes / 1KB) }
    [uint64] ToMB() { return [math]::Floor($this.Bytes / 1MB) }
    [uint64] ToGB() { return [math]::Floor($this.Bytes / 1GB) }
    [uint64] ToTB() { return [math]::Floor($this.Bytes / 1TB) }
    [string] ToString() { return $this.Text }

    [int] CompareTo([object] $other) {
        if ($null -eq $other) { return 1 }
        if ($other -is [ExchangeMfaUnlimited]) { return - $other.CompareTo($this) }
        return $this.Bytes.CompareTo([ExchangeMfaByteQuantifiedSize]::BytesOf($other))
    }
    [bool] Equals([object] $other) {
        return $null -ne $other -and $other -isnot [ExchangeMfaUnlimited] -and
            $this.Bytes -eq [ExchangeMfaByteQuantifiedSize]::BytesOf($other)
    }
    [int] GetHashCode() { return $this.Bytes.GetHashCode() }

    # Another size, its text, or a number of bytes.
    static [uint64] BytesOf([object] $value) {
        if ($value -is [ExchangeMfaByteQuantifiedSize]) { return $value.Bytes }
        if ($value -is [string] -and $value.EndsWith(' bytes)')) {
            return [ExchangeMfaByteQuantifiedSize]::new($value).Bytes
        }
        return [uint64]$value
    }
}

# Exchange's Unlimited<T>: IsUnlimited, or Value (a size). Equal to the text
# 'Unlimited'; larger than every size when unlimited.
class ExchangeMfaUnlimited : System.IComparable {
    [bool] $IsUnlimited
    [object] $Value

    ExchangeMfaUnlimited([object] $value) {
        $this.IsUnlimited = $null -eq $value
        $this.Value = $value
    }

    [string] ToString() { if ($this.IsUnlimited) { return 'Unlimited' } return $this.Value.ToString() }

    [int] CompareTo([object] $other) {
        $otherUnlimited = $other -is [ExchangeMfaUnlimited] -and $other.IsUnlimited -or
            ($other -is [string] -and $other -eq 'Unlimited')
        if ($this.IsUnlimited) { if ($otherUnlimited) { return 0 } return 1 }
        if ($otherUnlimited) { return -1 }
        if ($other -is [ExchangeMfaUnlimited]) { $other = $other.Value }
        return $this.Value.CompareTo($other)
    }
    [bool] Equals([object] $other) {
        if ($null -eq $other) { return $false }
        return $this.CompareTo($other) -eq 0
    }
    [int] GetHashCode() { return $this.ToString().GetHashCode() }
}

# Converts the members the helper named ({"Name":"Kind",...}) in place.
function ConvertTo-ExchangeMfaTypedValue {
    param([psobject] $Object, [psobject] $Types)
    foreach ($member in $Types.PSObject.Properties) {
        $name = $member.Name
        $text = $Object.$name
        if ($text -isnot [string]) { continue }     # ConvertFrom-Json made it a DateTime already
        $Object.$name = switch ($member.Value) {
            'Size' { [ExchangeMfaUnlimited]::new([ExchangeMfaByteQuantifiedSize]::new($text)) }
            'Unlimited' { [ExchangeMfaUnlimited]::new($null) }
            'Guid' { [guid]$text }
            'DateTime' { [datetime]::Parse($text, [cultureinfo]::InvariantCulture, 'RoundtripKind') }
            'Int32' { [int]$text }
            'Int64' { [long]$text }
            default { $text }
        }
    }
}
