# The client side of docs/protocol.md: requests with ids, acks and cancels.
#
# The helper's pipes are an [ExchangeMfa.HelperChannel] (compiled,
# module/Types/HelperChannel.cs) shared by every runspace of the process:
# whole lines go out under a lock; one reader thread sorts the helper's
# lines into a queue per request, by the request id at the start of each
# line. The thread running a command takes its own request's lines (an
# outer Get-Mailbox's lines wait in its queue while Set-Mailbox runs
# downstream), parses them and writes the objects itself. Lines for a
# request nobody waits for any more are dropped; acks keep each queue to at
# most two pages.

function Send-HelperLine {
    param(
        [Parameter(Mandatory)] [hashtable] $Helper,
        [Parameter(Mandatory)] [string] $Line,
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Cmdlet
    )
    try {
        $Helper.Channel.WriteLine($Line)
    }
    catch {
        Stop-HelperWithError -Helper $Helper -Cmdlet $Cmdlet
    }
}

function Stop-HelperWithError {
    # The helper died (EOF, broken pipe): forget it and its connections and
    # stop the command with a clear terminating error.
    param(
        [Parameter(Mandatory)] [hashtable] $Helper,
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Cmdlet
    )
    try {
        if (-not $Helper.Stopped -and $Helper.Process.WaitForExit(2000)) {
            $Helper.ExitCode = $Helper.Process.ExitCode
            $Helper.Process.WaitForExit()   # and its stderr is read to the end
        }
    }
    catch {
        # Another runspace that saw the same death stopped (and disposed) it
        # first; it kept the exit code.
        Write-Debug "ExchangeMfa: the helper's exit code: $($_.Exception.Message)"
    }
    Read-HelperStderr -Helper $Helper
    Stop-HelperProcess -Helper $Helper
    $code = if ($null -ne $Helper.ExitCode) { $Helper.ExitCode } else { 'unknown' }
    $tail = $Helper.Guard.Tail()
    $said = if ($tail.Count) { " It said: $($tail -join ' ')" } else { '' }
    $record = New-ExchangeMfaErrorRecord -Name HelperExited `
        -Message "The ExchangeMfa helper exited unexpectedly (exit code $code); its connections are gone. Run Connect-ExchangeMfa again.$said"
    $Cmdlet.ThrowTerminatingError($record)
}

function Send-HelperRequest {
    # Sends a request and registers its queue; returns its id. The caller
    # must end it with Complete-HelperRequest (in a finally block).
    param(
        [Parameter(Mandatory)] [hashtable] $Helper,
        [Parameter(Mandatory)] [string] $Method,
        [System.Collections.IDictionary] $Params,
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Cmdlet
    )
    $id = $Helper.Channel.Open()
    $request = [ordered]@{ jsonrpc = '2.0'; id = $id; method = $Method }
    # Secret values (SecureString, char[]) stay out of the JSON conversion:
    # placeholders stand in for them, and Send-HelperSecretLine writes them.
    $secrets = [ordered]@{}
    if ($Params) { $request.params = Hide-HelperSecret -Value $Params -Secrets $secrets }
    try { $line = ConvertTo-HelperRequestLine -Request $request -Secrets $secrets -Cmdlet $Cmdlet }
    catch { $Helper.Channel.Close($id); throw }
    Write-Debug "ExchangeMfa: request $id $Method"
    if ($secrets.Count -eq 0) {
        Send-HelperLine -Helper $Helper -Line $line -Cmdlet $Cmdlet
    }
    else {
        try { Send-HelperSecretLine -Helper $Helper -Line $line -Secrets $secrets }
        catch { Stop-HelperWithError -Helper $Helper -Cmdlet $Cmdlet }
    }
    $id
}

# The helper's nesting limit (EM_JSON_MAX_DEPTH in native/src/json.h):
# containers in one request line, the request object included.
$script:HelperJsonMaxDepth = 64

function ConvertTo-HelperRequestLine {
    # The request as one JSON line. Refused (a terminating InvalidParams
    # error) rather than sent changed: nesting deeper than the helper reads
    # (ConvertTo-Json would cut it silently, with a mere warning), and a NUL
    # character in any string or key (the helper's C strings would end
    # there: Set-Mailbox "user1`0x" would act on user1).
    param(
        [Parameter(Mandatory)] [System.Collections.IDictionary] $Request,
        [Parameter(Mandatory)] [System.Collections.IDictionary] $Secrets,
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Cmdlet
    )
    $truncated = $null
    # -Depth counts the levels below the top object.
    $line = ConvertTo-Json -InputObject $Request -Compress -Depth ($script:HelperJsonMaxDepth - 1) `
        -WarningAction SilentlyContinue -WarningVariable truncated
    $problem = if ($truncated) { "are nested deeper than $script:HelperJsonMaxDepth levels" }
    elseif ($line -match '(?<!\\)(\\\\)*\\u0000') { 'contain a NUL character (`0)' }
    foreach ($secret in $Secrets.Values) {
        $chars = ConvertTo-SecretCharArray $secret
        try { if ([array]::IndexOf($chars, [char]0) -ge 0) { $problem = 'contain a NUL character (`0) in a secret' } }
        finally { if ($secret -isnot [char[]]) { [array]::Clear($chars, 0, $chars.Length) } }
    }
    if ($problem) {
        $record = New-ExchangeMfaErrorRecord -Name InvalidParams `
            -Message "The parameters of $($Request.method) $problem, which the ExchangeMfa helper cannot take as they are; nothing was sent."
        $Cmdlet.ThrowTerminatingError($record)
    }
    $line
}

function Hide-HelperSecret {
    # A copy of $Value in which every secret (SecureString, char[]), at any
    # depth (an Exchange cmdlet's -Password sits inside invoke's parameters),
    # is a placeholder string; $Secrets maps each placeholder to its secret.
    param($Value, [Parameter(Mandatory)] [System.Collections.IDictionary] $Secrets)
    if ($Value -is [securestring] -or $Value -is [char[]]) {
        $placeholder = "exchangemfa-secret-$([guid]::NewGuid().ToString('n'))"
        $Secrets[$placeholder] = $Value
        return $placeholder
    }
    if ($Value -is [System.Collections.IDictionary]) {
        $copy = [ordered]@{}
        foreach ($key in $Value.Keys) { $copy[$key] = Hide-HelperSecret -Value $Value[$key] -Secrets $Secrets }
        return $copy
    }
    if ($Value -is [System.Collections.IList]) {
        return , @(foreach ($item in $Value) { Hide-HelperSecret -Value $item -Secrets $Secrets })
    }
    $Value
}

function Send-HelperSecretLine {
    # Writes a request line whose placeholders stand for secrets. Each secret
    # becomes plain characters only here, in a char array that is written
    # (JSON-escaped) straight to the helper's stdin and cleared at once; a
    # char[] given by the caller is cleared too. No managed string ever
    # holds the secret, so it cannot linger in a variable, a log or an error.
    param(
        [Parameter(Mandatory)] [hashtable] $Helper,
        [Parameter(Mandatory)] [string] $Line,
        [Parameter(Mandatory)] [System.Collections.IDictionary] $Secrets
    )
    $pattern = '"(' + (($Secrets.Keys | ForEach-Object { [regex]::Escape($_) }) -join '|') + ')"'
    $parts = [regex]::Split($Line, $pattern)
    # The line's parts, the secrets as char arrays: written as one line.
    $pieces = [System.Collections.Generic.List[object]]::new()
    $secretChars = [System.Collections.Generic.List[char[]]]::new()
    try {
        # Split keeps the captured placeholders at the odd positions.
        for ($i = 0; $i -lt $parts.Count; $i++) {
            if ($i % 2 -eq 0) { $pieces.Add($parts[$i]); continue }
            $chars = ConvertTo-SecretCharArray $Secrets[$parts[$i]]
            $secretChars.Add($chars)
            $escaped = ConvertTo-JsonEscapedCharArray $chars
            $secretChars.Add($escaped)
            $pieces.Add('"'); $pieces.Add($escaped); $pieces.Add('"')
        }
        $Helper.Channel.WriteLine($pieces)
    }
    finally {
        foreach ($chars in $secretChars) { [array]::Clear($chars, 0, $chars.Length) }
    }
}

function ConvertTo-SecretCharArray {
    # SecureString -> a char array the caller clears; a char array as is.
    param($Secret)
    if ($Secret -is [char[]]) { return , $Secret }
    $chars = [char[]]::new($Secret.Length)
    $pointer = [System.Runtime.InteropServices.Marshal]::SecureStringToGlobalAllocUnicode($Secret)
    try { [System.Runtime.InteropServices.Marshal]::Copy($pointer, $chars, 0, $chars.Length) }
    finally { [System.Runtime.InteropServices.Marshal]::ZeroFreeGlobalAllocUnicode($pointer) }
    , $chars
}

function ConvertTo-JsonEscapedCharArray {
    # The JSON string body of $Chars (quotes, backslashes and control
    # characters escaped), as a new char array the caller clears.
    param([char[]] $Chars)
    # Worst case six characters each (\u00XX); the work buffer is cleared.
    $buffer = [char[]]::new($Chars.Length * 6)
    $n = 0
    try {
        foreach ($c in $Chars) {
            if ($c -eq [char]'"' -or $c -eq [char]'\') { $buffer[$n++] = [char]'\'; $buffer[$n++] = $c }
            elseif ([int]$c -lt 0x20) { foreach ($e in ('\u{0:x4}' -f [int]$c).ToCharArray()) { $buffer[$n++] = $e } }
            else { $buffer[$n++] = $c }
        }
        $array = [char[]]::new($n)
        [array]::Copy($buffer, $array, $n)
        , $array
    }
    finally {
        [array]::Clear($buffer, 0, $buffer.Length)
    }
}

function Send-HelperNotification {
    # ack and cancel: fire and forget. A dead helper is noticed by the next
    # read, so a failed write is not an error here.
    param(
        [Parameter(Mandatory)] [hashtable] $Helper,
        [Parameter(Mandatory)] [string] $Line
    )
    try { $Helper.Channel.WriteLine($Line) } catch { Write-Debug "ExchangeMfa: notification not sent: $($_.Exception.Message)" }
}

function Complete-HelperRequest {
    # Forgets a request; with -Cancel also tells the helper to stop it (the
    # command was stopped, failed, or timed out before the reply).
    param(
        [Parameter(Mandatory)] [hashtable] $Helper,
        [Parameter(Mandatory)] [long] $Id,
        [switch] $Cancel
    )
    $Helper.Channel.Close($Id)
    if ($Cancel -and -not $Helper.Stopped) {
        Write-Debug "ExchangeMfa: cancel $Id"
        Send-HelperNotification -Helper $Helper -Line "{""jsonrpc"":""2.0"",""method"":""cancel"",""params"":{""id"":$Id}}"
    }
}

function Stop-HelperProtocolError {
    # The helper wrote something that is not a protocol line.
    param([string] $Line, [System.Management.Automation.PSCmdlet] $Cmdlet)
    $shown = if ($Line.Length -gt 200) { $Line.Substring(0, 200) + '...' } else { $Line }
    $record = New-ExchangeMfaErrorRecord -Name ProtocolViolation `
        -Message "The ExchangeMfa helper wrote a line that is not a JSON-RPC message: $shown"
    $Cmdlet.ThrowTerminatingError($record)
}

function Receive-HelperMessage {
    # Returns the next message (reply or notification) for request $Id,
    # waiting for the reader thread to queue one. Waits in short slices so
    # Ctrl+C and a stopped pipeline are honoured at once.
    # Terminating errors: the helper died, broke the protocol, or sent
    # nothing for request $Id within $TimeoutSeconds.
    # $Sink (an [ExchangeMfa.ObjectSink], optional): the request's object
    # lines go straight to its pipeline in compiled code (ObjectStream.cs)
    # and never come back here; this runs once per page, not per object.
    param($Helper, $Id, $TimeoutSeconds, $Cmdlet, $Sink)
    $deadline = [datetime]::UtcNow.AddSeconds($TimeoutSeconds)
    $channel = $Helper.Channel
    while ($true) {
        $line = $null
        try {
            while ($null -eq ($line = $channel.Take($Id, $Sink, 100))) {
                Read-HelperStderr -Helper $Helper
                if ([datetime]::UtcNow -gt $deadline) {
                    $record = New-ExchangeMfaErrorRecord -Name Timeout -TargetObject $Id `
                        -Message "The ExchangeMfa helper sent nothing for request $Id in $TimeoutSeconds seconds."
                    $Cmdlet.ThrowTerminatingError($record)
                }
            }
        }
        catch [System.IO.EndOfStreamException] { $line = $null }
        if ($null -eq $line) { Stop-HelperWithError -Helper $Helper -Cmdlet $Cmdlet }

        # One parse per line: PowerShell's own JSON reader without the cost
        # of a cmdlet call (about 25,000 lines a second against 20,000).
        # Text that is not JSON at all makes it throw rather than report.
        $parseError = $null
        try { $message = [Microsoft.PowerShell.Commands.JsonObject]::ConvertFromJson($line, [ref]$parseError) }
        catch { $parseError = $_ }
        if ($parseError -or $message -isnot [System.Management.Automation.PSCustomObject]) {
            Stop-HelperProtocolError -Line $line -Cmdlet $Cmdlet
        }
        $method = $message.method
        $key = if ($null -ne $method) { $message.params.requestId } else { $message.id }
        if ($key -eq $Id) { return $message }
        if ($null -eq $key) {
            # An error with id null answers a line the helper could not read:
            # ours, so the two sides disagree about the protocol.
            $text = if ($message.error) { $message.error.message } else { $line }
            $record = New-ExchangeMfaErrorRecord -Name ProtocolViolation `
                -Message "The ExchangeMfa helper could not read a request: $text"
            $Cmdlet.ThrowTerminatingError($record)
        }
        # A line the reader could not place by its layout, sent to every
        # waiter: another request's.
        Write-Debug "ExchangeMfa: skipped a '$method' line of request $key"
    }
}

function Invoke-HelperRequest {
    # One request, one reply (notifications ignored). Returns the reply
    # message: the caller looks at .result or .error.
    param(
        [Parameter(Mandatory)] [hashtable] $Helper,
        [Parameter(Mandatory)] [string] $Method,
        [System.Collections.IDictionary] $Params,
        [double] $TimeoutSeconds = $script:RequestTimeoutSeconds,
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Cmdlet
    )
    $id = Send-HelperRequest -Helper $Helper -Method $Method -Params $Params -Cmdlet $Cmdlet
    $answered = $false
    try {
        while ($true) {
            $message = Receive-HelperMessage -Helper $Helper -Id $id -TimeoutSeconds $TimeoutSeconds -Cmdlet $Cmdlet
            if ($null -eq $message.method) {
                $answered = $true
                return $message
            }
        }
    }
    finally {
        Complete-HelperRequest -Helper $Helper -Id $id -Cancel:(-not $answered)
        Read-HelperStderr -Helper $Helper
    }
}
