# Issue 12: the compiled object reader (module/Types/ObjectStream.cs) makes
# exactly what ConvertFrom-Json made before, or leaves the line to it; the
# emulator's instant pages (fastPages) serve the same objects. Nothing here
# is timed: bench/exchange.ps1 measures.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    $script:emulator = Start-TestSession -Mailboxes 2500
    Reset-Emulator
    $parameters = Get-TestConnectParameters
    $null = Connect-ExchangeMfa @parameters

    $assembly = Join-Path $PSScriptRoot '../../module/bin/ExchangeMfa.Types.dll'
    $null = [System.Reflection.Assembly]::LoadFrom((Resolve-Path $assembly))

    function script:Read-ObjectLine {
        # What the compiled reader writes for each line of request 7, or
        # 'script' for a line it leaves to PowerShell.
        [CmdletBinding()]
        param([string[]] $Line)
        $sink = [ExchangeMfa.ObjectSink]::new($PSCmdlet, 7, 'ExchangeMfa.Test')
        foreach ($text in $Line) { if (-not $sink.TryWrite($text)) { 'script' } }
    }

    function script:Read-ScriptLine([string] $Line) {
        # What the script's reader makes of the same line (HelperChannel.ps1,
        # InvokeStream.ps1).
        $parseError = $null
        $message = [Microsoft.PowerShell.Commands.JsonObject]::ConvertFromJson($Line, [ref]$parseError)
        $value = $message.params.value
        if ($message.params.types) { [ExchangeMfa.TypedValues]::Apply($value, $message.params.types) }
        $value.PSObject.TypeNames.Insert(0, 'ExchangeMfa.Test')
        $value
    }

    function script:Get-Shape($Value) {
        # Names, .NET types and values, recursively: equal shapes, equal objects.
        if ($null -eq $Value) { return 'null' }
        if ($Value -is [System.Management.Automation.PSCustomObject]) {
            $members = foreach ($p in $Value.PSObject.Properties) { "$($p.Name)=$(Get-Shape $p.Value)" }
            return "{$($Value.PSObject.TypeNames -join '/')|$($members -join ';')}"
        }
        if ($Value -is [array]) { return "[$((@(foreach ($item in $Value) { Get-Shape $item })) -join ',')]" }
        if ($Value -is [datetime]) { return "DateTime:$($Value.Ticks):$($Value.Kind)" }
        "$($Value.GetType().FullName):$Value"
    }

    function script:New-ObjectLine([string] $Value, [string] $Types, [long] $RequestId = 7) {
        $typesMember = if ($Types) { ",""types"":""$Types""" } else { '' }
        "{""jsonrpc"":""2.0"",""method"":""object"",""params"":{""requestId"":$RequestId,""value"":$Value$typesMember}}"
    }
}

AfterAll {
    Stop-TestSession
    Remove-Module TestSupport -ErrorAction Ignore
}

Describe 'The compiled object reader' {
    It 'makes what ConvertFrom-Json made: <name>' -ForEach @(
        @{ name = 'strings and escapes'; value = '{"Name":"a\"b\\c\u00e9\n","Empty":"","Unicode":"日本"}' }
        @{ name = 'numbers'; value = '{"Int":1,"Negative":-42,"Long":30000000000,"Double":1.5,"Exp":1e3,"Small":-2.5E-3}' }
        @{ name = 'literals'; value = '{"T":true,"F":false,"N":null}' }
        @{ name = 'nested objects and arrays'; value = '{"A":[1,"x",null,[2,[]],{"B":{"C":[true]}}],"E":[],"O":{}}' }
        @{ name = 'ISO dates'; value = '{"Z":"2020-01-06T09:07:01Z","Fraction":"2020-01-06T09:07:01.1234567Z","Offset":"2024-01-02T03:04:05+02:00","Plain":"2024-01-02T03:04:05","DateOnly":"2024-01-02"}' }
        @{ name = 'typed members'; value = '{"Guid":"8f6bbd6c-c377-4644-8bbd-518a64a103ab","Quota":"99 GB (106,300,440,576 bytes)","Max":"Unlimited","When":"2020-01-06T09:07:01Z","Count":"12","Bad":"not a guid"}'
            types = 'Guid:Guid,Quota:Size,Max:Unlimited,When:DateTime,Count:Int32,Bad:Guid,Missing:Guid' }
        @{ name = 'case of typed names'; value = '{"guid":"8f6bbd6c-c377-4644-8bbd-518a64a103ab"}'; types = 'Guid:Guid' }
    ) {
        $line = New-ObjectLine $value $types
        $ours = Read-ObjectLine $line
        $ours | Should -Not -Be 'script'
        Get-Shape $ours | Should -BeExactly (Get-Shape (Read-ScriptLine $line))
    }

    It 'leaves to the script what it would not make alike: <name>' -ForEach @(
        @{ name = 'a key twice'; value = '{"A":1,"A":2}' }
        @{ name = 'a key twice in another casing'; value = '{"A":1,"a":2}' }
        @{ name = 'a key twice in a nested object'; value = '{"O":{"b":1,"B":2}}' }
        @{ name = 'an integer beyond Int64'; value = '{"Big":123456789012345678901234567890}' }
        @{ name = 'a /Date()/ string'; value = '{"D":"\/Date(1234567890000)\/"}' }
        @{ name = 'a date-like string that is not ISO'; value = '{"D":"2024-13-45T99:99:99Z"}' }
        @{ name = 'a value that is not an object'; value = '[1,2]' }
        @{ name = 'a null value'; value = 'null' }
    ) {
        Read-ObjectLine (New-ObjectLine $value) | Should -Be 'script'
    }

    It 'reads a run of objects alike whatever the shape before: names, order and types changing' {
        # The reader reuses what it worked out for the previous object's
        # names and types (ObjectStream.cs, Shape): every change must count.
        $values = @(
            @('{"A":"1","B":"x"}', 'A:Int32'), @('{"A":"2","B":"y"}', 'A:Int32'), @('{"A":"3","B":"z"}', 'B:Int32')
            @('{"B":"4","A":"5"}', 'A:Int32'), @('{"A":"6"}', 'A:Int32'), @('{"A":"7","B":"8","C":"9"}', 'A:Int32,C:Int32')
            @('{"A":"7","B":"8","C":"9"}', $null), @('{"a":"1","B":"2"}', 'A:Int32'), @('{"A":"1","B":"2"}', 'A:Int32')
        )
        foreach ($pair in $values) {
            $line = New-ObjectLine $pair[0] $pair[1]
            Get-Shape (Read-ObjectLine $line) | Should -BeExactly (Get-Shape (Read-ScriptLine $line)) -Because "$($pair[0]) $($pair[1])"
        }
        # A key twice right after an object of the same first names.
        @(Read-ObjectLine (New-ObjectLine '{"A":1,"B":2}'), (New-ObjectLine '{"A":1,"a":2}'))[1] | Should -Be 'script'
    }

    It 'takes only object lines of its own request' {
        $lines = @(
            (New-ObjectLine '{"A":1}' -RequestId 8)
            (New-ObjectLine '{"A":1}' -RequestId 70)
            '{"jsonrpc":"2.0","method":"page","params":{"requestId":7,"page":1,"objects":1,"more":false}}'
            '{"jsonrpc":"2.0","id":7,"result":{"objects":1,"pages":1}}'
            '{"jsonrpc":"2.0","method":"object","params":{"requestId":7,"value":{"A":1},"extra":1}}'
            '{"jsonrpc":"2.0","method":"object","params":{"requestId":7,"value":{"A":1'
        )
        @(Read-ObjectLine $lines) | Should -Be @('script', 'script', 'script', 'script', 'script', 'script')
    }

    It 'types each object with the command''s type name first' {
        $object = Read-ObjectLine (New-ObjectLine '{"A":1}')
        $object.PSObject.TypeNames[0] | Should -Be 'ExchangeMfa.Test'
        $object.PSObject.TypeNames[1] | Should -Be 'System.Management.Automation.PSCustomObject'
    }
}

Describe 'The compiled reader of other lines (replies, notifications)' {
    It 'makes what ConvertFrom-Json makes: <name>' -ForEach @(
        @{ name = 'a reply'; line = '{"jsonrpc":"2.0","id":3,"result":{"connectionId":"c1","expiresOn":"2020-01-06T09:07:01Z","scopes":["a","b"],"throttleLimit":8,"ratio":0.5,"none":null,"ok":true}}' }
        @{ name = 'an error'; line = '{"jsonrpc":"2.0","id":4,"error":{"code":-32000,"message":"x \"y\" \u00e9","data":{"name":"NotFound","target":"日本"}}}' }
        @{ name = 'a notification'; line = '{"jsonrpc":"2.0","method":"page","params":{"requestId":7,"page":1,"objects":1,"more":false}}' }
        @{ name = 'nesting'; line = '{"a":[1,[2,[]],{"b":{"c":[true,false]}}],"e":{},"n":-2.5E-3,"l":30000000000}' }
    ) {
        $ours = [ExchangeMfa.JsonLine]::Read($line)
        $ours | Should -Not -BeNullOrEmpty
        Get-Shape $ours | Should -BeExactly (Get-Shape ($line | ConvertFrom-Json))
    }

    It 'leaves to ConvertFrom-Json what it would not make alike: <name>' -ForEach @(
        @{ name = 'a huge integer'; line = '{"id":1,"result":{"big":123456789012345678901234567890}}' }
        @{ name = 'a /Date()/ string'; line = '{"id":1,"result":{"d":"\/Date(1234567890000)\/"}}' }
        @{ name = 'a key twice'; line = '{"id":1,"ID":2}' }
        @{ name = 'an empty key'; line = '{"":1}' }
        @{ name = 'an array'; line = '[1,2]' }
        @{ name = 'two values'; line = '{"a":1} {"b":2}' }
        @{ name = 'text that is not JSON'; line = 'exchangemfa-helper: hello' }
    ) {
        [ExchangeMfa.JsonLine]::Read($line) | Should -BeNullOrEmpty
    }
}

Describe 'Streaming through the compiled reader' {
    AfterEach { Set-EmulatorConfig @{ fastPages = $false } | Out-Null }

    It 'gives the same mailboxes from instant pages as from the emulator as is' {
        $asIs = @(Get-Mailbox -ResultSize Unlimited)
        Set-EmulatorConfig @{ fastPages = $true } | Out-Null
        $instant = @(Get-Mailbox -ResultSize Unlimited)
        $again = @(Get-Mailbox -ResultSize Unlimited)
        $asIs.Count | Should -Be 2500
        $instant.Count | Should -Be 2500
        $again.Count | Should -Be 2500
        foreach ($index in 0, 999, 1000, 2499) {
            Get-Shape $instant[$index] | Should -BeExactly (Get-Shape $asIs[$index])
            Get-Shape $again[$index] | Should -BeExactly (Get-Shape $asIs[$index])
        }
        $instant[0].Guid | Should -BeOfType [guid]
        $instant[0].ProhibitSendQuota.Value.ToGB() | Should -Be 99
    }

    It 'honours -ResultSize from instant pages, with the warning' {
        $asIs = @(Get-Mailbox -ResultSize 1500 -WarningAction SilentlyContinue)
        Set-EmulatorConfig @{ fastPages = $true } | Out-Null
        $boxes = @(Get-Mailbox -ResultSize 1500 -WarningVariable warnings -WarningAction SilentlyContinue)
        $boxes.Count | Should -Be 1500
        $boxes[-1].Name | Should -Be $asIs[-1].Name
        @($warnings).Count | Should -Be 1
    }

    It 'stops the helper''s paging when the pipeline stops early' {
        Set-EmulatorConfig @{ fastPages = $true } | Out-Null
        Invoke-EmulatorControl -Path reset | Out-Null
        $first = @(Get-Mailbox -ResultSize Unlimited | Select-Object -First 3)
        $first.Count | Should -Be 3
        (Get-EmulatorStats).pagesServed | Should -BeLessThan 25
        # The connection still answers.
        @(Get-Mailbox -ResultSize 2).Count | Should -Be 2
    }
}
