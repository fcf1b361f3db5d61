# Parameter values as the Exchange admin REST endpoint expects them
# (reference/exchange-online.md, section 3), and the error mapping.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../../ExchangeMfa.psd1') -Force
    # Sends one invoke request into a writer in memory: the line, or the
    # terminating error.
    function Send-TestRequest([System.Collections.IDictionary] $Params) {
        & {
            param($p)
            function Send-Once {
                [CmdletBinding()] param($p)
                $stream = [System.IO.MemoryStream]::new()
                $channel = [ExchangeMfa.HelperChannel]::new($stream, [System.IO.MemoryStream]::new())
                [ExchangeMfa.Helper]::Write($channel, $channel.Open(), 'invoke', $p, $PSCmdlet)
                [System.Text.Encoding]::UTF8.GetString($stream.ToArray())
            }
            Send-Once $p
        } $Params
    }
}

AfterAll {
    Remove-Module ExchangeMfa -ErrorAction Ignore
}

Describe 'Exchange parameter encoding' {
    It 'encodes <name>' -ForEach @(
        @{ name = 'a switch as a boolean'; value = [switch]$true; json = 'true' }
        @{ name = 'a string as is'; value = 'user00001'; json = '"user00001"' }
        @{ name = 'a number as is'; value = 42; json = '42' }
        @{ name = 'a DateTime in UTC with seven digits'; value = [datetime]::new(2024, 5, 6, 7, 8, 9, [DateTimeKind]::Utc); json = '"2024-05-06T07:08:09.0000000Z"' }
        @{ name = 'a GUID as a string'; value = [guid]'0b7c1b9a-0000-4000-8000-000000000001'; json = '"0b7c1b9a-0000-4000-8000-000000000001"' }
        @{ name = 'an enum as its name'; value = [System.DayOfWeek]::Monday; json = '"Monday"' }
        @{ name = 'bytes as Exchange.ByteArrayType'; value = [byte[]](1, 2, 3); json = '{"@odata.type":"#Exchange.ByteArrayType","Data":"AQID"}' }
        @{ name = 'a string array as an array'; value = @('UserMailbox', 'SharedMailbox'); json = '["UserMailbox","SharedMailbox"]' }
        @{ name = 'an Exchange object as its Identity'; value = [pscustomobject]@{ Identity = 'user00002'; Name = 'x' }; json = '"user00002"' }
    ) {
        $encoded = [ExchangeMfa.ExchangeParameters]::Encode(@{ P = $value })
        Send-TestRequest @{ parameters = $encoded } | Should -BeExactly "{""jsonrpc"":""2.0"",""id"":1,""method"":""invoke"",""params"":{""parameters"":{""P"":$json}}}`n"
    }

    It 'marks a SecureString for the helper to encrypt; its plain text is in the request line only' {
        $secret = ConvertTo-SecureString 'Pa55-w"0rd!' -AsPlainText -Force
        $encoded = [ExchangeMfa.ExchangeParameters]::Encode(@{ Password = $secret })
        # No managed string holds it while the request is built; it is marked
        # for the helper, which encrypts it with Exchange's public key ...
        $encoded.Password['@exchangemfa.secureString'] | Should -BeOfType [securestring]
        # ... and the line written to the helper carries it, JSON-escaped,
        # at whatever depth it sits.
        $line = Send-TestRequest ([ordered]@{ cmdlet = 'New-MailUser'; parameters = $encoded })
        ($line | ConvertFrom-Json).params.parameters.Password.'@exchangemfa.secureString' | Should -Be 'Pa55-w"0rd!'
    }

    It 'encodes a hashtable as Exchange.GenericHashTable' {
        $encoded = [ExchangeMfa.ExchangeParameters]::Encode(@{ EmailAddresses = [ordered]@{ Add = 'a@b' } })
        ConvertTo-Json -InputObject $encoded -Compress -Depth 5 |
            Should -Be '{"EmailAddresses":{"@odata.type":"#Exchange.GenericHashTable","Add":"a@b"}}'
    }

    It 'flags an array of hashtables as a collection' {
        $encoded = [ExchangeMfa.ExchangeParameters]::Encode(@{ Rules = @(@{ A = 1 }, @{ B = 2 }) })
        $encoded['Rules@odata.type'] | Should -Be '#Collection(Exchange.GenericHashTable)'
        $encoded.Rules.Count | Should -Be 2
        $encoded.Rules[0]['@odata.type'] | Should -Be '#Exchange.GenericHashTable'
    }
}

Describe 'Error records' {
    It 'maps <name> to <category>' -ForEach @(
        @{ name = 'NotFound'; category = 'ObjectNotFound' }
        @{ name = 'AccessDenied'; category = 'PermissionDenied' }
        @{ name = 'Throttled'; category = 'LimitsExceeded' }
        @{ name = 'Timeout'; category = 'OperationTimeout' }
        @{ name = 'NetworkError'; category = 'ConnectionError' }
        @{ name = 'TlsError'; category = 'ConnectionError' }
        @{ name = 'AuthorizationDeclined'; category = 'AuthenticationError' }
        @{ name = 'MfaRequired'; category = 'AuthenticationError' }
        @{ name = 'InvalidGrant'; category = 'AuthenticationError' }
        @{ name = 'AuthenticationFailed'; category = 'AuthenticationError' }
        @{ name = 'DeviceCodeExpired'; category = 'OperationTimeout' }
        @{ name = 'InvalidParams'; category = 'InvalidArgument' }
        @{ name = 'Cancelled'; category = 'OperationStopped' }
        @{ name = 'ConnectionNotFound'; category = 'InvalidOperation' }
        @{ name = 'BadResponse'; category = 'ProtocolError' }
        @{ name = 'SomethingNew'; category = 'NotSpecified' }
    ) {
        $helperError = [pscustomobject]@{ code = -32000; message = 'It failed.'
            data = [pscustomobject]@{ name = $name; httpStatus = 429; retryAfter = 7 } }
        $record = [ExchangeMfa.ErrorRecords]::FromHelper($helperError, 'box1')
        $record.FullyQualifiedErrorId | Should -Be "ExchangeMfa.$name"
        $record.CategoryInfo.Category | Should -Be $category
        $record.TargetObject | Should -Be 'box1'
        $record.Exception.Message | Should -Be 'It failed.'
        $record.Exception.Data['ExchangeMfa.retryAfter'] | Should -Be 7
    }

    It 'recommends -Device for MfaRequired' {
        $helperError = [pscustomobject]@{ code = -32000; message = 'MFA needed.'; data = [pscustomobject]@{ name = 'MfaRequired' } }
        $record = [ExchangeMfa.ErrorRecords]::FromHelper($helperError)
        $record.ErrorDetails.RecommendedAction | Should -Match 'Connect-ExchangeMfa -Device'
    }

    It 'names an Exchange failure by its exception class: <class> -> <name> (<category>)' -ForEach @(
        @{ class = 'Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException'; name = 'NotFound'; category = 'ObjectNotFound' }
        @{ class = 'ManagementObjectAlreadyExistsException'; name = 'AlreadyExists'; category = 'ResourceExists' }
        @{ class = 'ManagementObjectAmbiguousException'; name = 'Ambiguous'; category = 'InvalidArgument' }
        @{ class = 'System.Management.Automation.ParameterBindingException'; name = 'InvalidParameter'; category = 'InvalidArgument' }
        @{ class = 'System.Management.Automation.CommandNotFoundException'; name = 'CommandNotFound'; category = 'ObjectNotFound' }
        @{ class = 'AccessDeniedException'; name = 'AccessDenied'; category = 'PermissionDenied' }
        @{ class = 'ThrottlingException'; name = 'Throttled'; category = 'LimitsExceeded' }
        @{ class = 'DataValidationException'; name = 'InvalidData'; category = 'InvalidData' }
        @{ class = 'TenantNotFoundException'; name = 'TenantNotFound'; category = 'ObjectNotFound' }
        @{ class = 'ServerInMMException'; name = 'ServerBusy'; category = 'ResourceBusy' }
        @{ class = 'SomeNewException'; name = 'ExchangeError'; category = 'InvalidOperation' }
    ) {
        $helperError = [pscustomobject]@{ code = -32000; message = 'Exchange said no.'
            data = [pscustomobject]@{ name = 'ExchangeError'; httpStatus = 400; serverCode = 'BadRequest'; exceptionType = $class } }
        $record = [ExchangeMfa.ErrorRecords]::FromHelper($helperError, 'box1')
        $record.FullyQualifiedErrorId | Should -Be "ExchangeMfa.$name"
        $record.CategoryInfo.Category | Should -Be $category
        $record.ErrorDetails.RecommendedAction | Should -Not -BeNullOrEmpty
        $record.Exception.Data['ExchangeMfa.exceptionType'] | Should -Be $class
    }

    It 'falls back to serverCode when the helper sends no exceptionType' {
        $helperError = [pscustomobject]@{ code = -32000; message = 'x'
            data = [pscustomobject]@{ name = 'ExchangeError'; serverCode = 'ManagementObjectAmbiguousException' } }
        $record = [ExchangeMfa.ErrorRecords]::FromHelper($helperError)
        $record.FullyQualifiedErrorId | Should -Be 'ExchangeMfa.Ambiguous'
    }

    It 'uses the helper target when it names one' {
        $helperError = [pscustomobject]@{ code = -32000; message = 'x'; data = [pscustomobject]@{ name = 'NotFound'; target = 'fromHelper' } }
        $record = [ExchangeMfa.ErrorRecords]::FromHelper($helperError, 'mine')
        $record.TargetObject | Should -Be 'fromHelper'
    }
}

Describe 'Request lines sent to the helper' {
    BeforeAll {
        # n nested objects, the outermost first.
        function New-Nested([int] $Count) {
            $value = 1
            for ($i = 0; $i -lt $Count; $i++) { $value = @{ a = $value } }
            $value
        }
        $maxDepth = [ExchangeMfa.RequestLine]::MaxDepth
    }

    It 'refuses a NUL character in <where>, sending nothing' -ForEach @(
        @{ where = 'a value'; params = @{ parameters = @{ Identity = "user00001`0-not-this-one" } } }
        @{ where = 'a key'; params = @{ parameters = @{ "Identity`0Junk" = 'user00001' } } }
        @{ where = 'a secret'; params = @{ parameters = @{ Password = [char[]]"pa`0ss" } } }
    ) {
        $record = { Send-TestRequest $params } | Should -Throw -PassThru
        $record.FullyQualifiedErrorId | Should -BeLike 'ExchangeMfa.InvalidParams*'
        $record.Exception.Message | Should -BeLike '*NUL character*nothing was sent*'
    }

    It 'writes <name> as ConvertTo-Json does' -ForEach @(
        @{ name = 'numbers'; params = [ordered]@{ int = 42; long = 9007199254740993L; negative = -7; double = 1.5; decimal = 2.25d; byte = [byte]255 } }
        @{ name = 'true, false and null'; params = [ordered]@{ yes = $true; no = $false; nothing = $null } }
        @{ name = 'nested objects and arrays in order'; params = [ordered]@{ z = 1; a = @(1, 'two', @(3), [ordered]@{ four = 4 }); m = [ordered]@{ inner = [ordered]@{ x = 'y' } } } }
        @{ name = 'an object''s properties'; params = [ordered]@{ item = [pscustomobject]@{ Name = 'n'; Count = 2 } } }
        @{ name = 'escapes'; params = [ordered]@{ text = "quote "" backslash \ tab `t newline `n bell `a" } }
        @{ name = 'text beyond ASCII'; params = [ordered]@{ name = 'Jürgen-Юрий 東京' } }
        @{ name = 'NaN as its name'; params = [ordered]@{ value = [double]::NaN } }
    ) {
        $request = [ordered]@{ jsonrpc = '2.0'; id = 1; method = 'invoke'; params = $params }
        Send-TestRequest $params | Should -BeExactly ((ConvertTo-Json -InputObject $request -Compress -Depth 10) + "`n")
    }

    It 'writes a character beyond the Basic Multilingual Plane as a surrogate pair' {
        # The helper's JSON reader (yajl) decodes the pair to its four UTF-8 bytes.
        Send-TestRequest @{ name = 'smile 🙂' } | Should -BeLike '*"smile \uD83D\uDE42"*'
    }

    It 'writes a secret of any length and characters exactly, where it sits' {
        $text = 'p"a\s' + "`t" + 'ü東' + ('x' * 5000)
        $line = Send-TestRequest ([ordered]@{ parameters = [ordered]@{ Password = [char[]]$text; Also = @((ConvertTo-SecureString $text -AsPlainText -Force)) } })
        $sent = ($line | ConvertFrom-Json).params.parameters
        $sent.Password | Should -BeExactly $text
        $sent.Also[0] | Should -BeExactly $text
    }

    It 'sends the six characters \u0000 typed as text' {
        Send-TestRequest @{ parameters = @{ Identity = 'a\u0000b' } } | Should -BeLike '*"a\\u0000b"*'
    }

    It 'takes nesting up to the helper''s limit and refuses one level more, saying so' {
        # the request object holds params: 1 + n containers
        Send-TestRequest (New-Nested ($maxDepth - 1)) | Should -BeLike '{"jsonrpc":"2.0","id":1,"method":"invoke","params":{"a":*'
        $record = { Send-TestRequest (New-Nested $maxDepth) } | Should -Throw -PassThru
        $record.Exception.Message | Should -BeLike "*nested deeper than $maxDepth levels*"
    }

    It 'uses the helper''s own nesting limit' {
        $header = Get-ChildItem (Join-Path $PSScriptRoot '../../native/src') -Recurse -Filter json.h
        (Get-Content $header.FullName -Raw) -match '#define EM_JSON_MAX_DEPTH (\d+)' | Should -BeTrue
        [int]$Matches[1] | Should -Be $maxDepth
    }
}
