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
    # The line is made and written in compiled code (module/Types/
    # RequestLine.cs): secrets (SecureString, char[]) at any depth become
    # plain text only in its cleared buffer. A request the helper could not
    # take as it is (a NUL character, nesting deeper than it reads) is a
    # terminating InvalidParams error, with nothing sent.
    param(
        [Parameter(Mandatory)] [hashtable] $Helper,
        [Parameter(Mandatory)] [string] $Method,
        [System.Collections.IDictionary] $Params,
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Cmdlet
    )
    $id = $Helper.Channel.Open()
    $Cmdlet.WriteDebug("ExchangeMfa: request $id $Method")
    try {
        [ExchangeMfa.RequestLine]::Write($Helper.Channel, $id, $Method, $Params)
    }
    catch [ExchangeMfa.RequestLineException] {
        $Helper.Channel.Close($id)
        $record = New-ExchangeMfaErrorRecord -Name InvalidParams `
            -Message "The parameters of $Method $($_.Exception.GetBaseException().Message), which the ExchangeMfa helper cannot take as they are; nothing was sent."
        $Cmdlet.ThrowTerminatingError($record)
    }
    catch [System.IO.IOException], [System.ObjectDisposedException] {
        # The helper is gone (a broken pipe, its stdin closed).
        $Helper.Channel.Close($id)
        Stop-HelperWithError -Helper $Helper -Cmdlet $Cmdlet
    }
    $id
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

        # One parse per line, in compiled code (module/Types/ObjectStream.cs);
        # what it leaves to PowerShell (a huge number, a "/Date()/" string)
        # and text that is not a JSON object go to ConvertFrom-Json.
        $message = [ExchangeMfa.JsonLine]::Read($line)
        if ($null -eq $message) {
            $message = try { ConvertFrom-Json -InputObject $line -ErrorAction Stop } catch { $null }
        }
        if ($message -isnot [System.Management.Automation.PSCustomObject]) {
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
