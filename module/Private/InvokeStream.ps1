# Runs one Exchange cmdlet through the helper's `invoke` and writes each
# result object to the calling command's pipeline as soon as it arrives.

# Seconds without any message for a running invoke before giving up.
# Exchange itself stops a call after 15 minutes.
$script:InvokeIdleTimeoutSeconds = 960

# Errors after which further input cannot succeed either: terminating.
$script:TerminatingInvokeErrors = @(
    'ConnectionNotFound', 'InvalidGrant', 'Unauthorized', 'Internal',
    'ParseError', 'InvalidRequest', 'MethodNotFound', 'OutOfMemory'
)

function Start-ExchangeMfaStream {
    # Sends an invoke and returns its stream, for Receive-ExchangeMfaStream
    # (which ends it) or Stop-ExchangeMfaStream; one invoke start to end is
    # Receive-ExchangeMfaStream (Start-ExchangeMfaStream ...). Several may be in flight
    # (docs/exchange.md, Pipelines): their lines wait in the helper channel's
    # queues until their turn.
    param(
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Cmdlet,
        [Parameter(Mandatory)] [string] $CmdletName,
        [System.Collections.IDictionary] $Parameters,
        [string] $ResultSize,
        [int] $PageSize,
        [string] $ConnectionId,
        [object] $TargetObject,
        [string] $TypeName,
        # Property names for $select (Get-EXO* cmdlets, see ExoCmdlets.ps1).
        [string[]] $Select,
        # The requests the caller keeps in flight: the helper's window for
        # the connection may grow to this many (docs/protocol.md, invoke).
        [int] $ThrottleLimit
    )
    $target = Resolve-ExchangeMfaTarget -ConnectionId $ConnectionId -Cmdlet $Cmdlet

    $params = [ordered]@{
        connectionId = $target.ConnectionId
        cmdlet       = $CmdletName
        parameters   = ConvertTo-ExchangeParameterSet $Parameters
    }
    if ($ResultSize) {
        $size = if ($ResultSize -eq 'Unlimited') { 'Unlimited' } else { [long]$ResultSize }
        # The helper stops after resultSize objects; Exchange itself must be
        # told too, or it stops at its default of 1000.
        $params.resultSize = $size
        if (-not $params.parameters.Contains('ResultSize')) { $params.parameters.ResultSize = $size }
    }
    if ($PageSize -gt 0) { $params.pageSize = $PageSize }
    if ($Select) { $params.select = $Select }
    if ($ThrottleLimit -gt 0) { $params.throttleLimit = $ThrottleLimit }

    # Objects are typed by the catalogue's output type, else by the cmdlet's
    # noun (Get-Mailbox -> ExchangeMfa.Mailbox), so the format file can show
    # them like Exchange does.
    $typeName = $TypeName
    if (-not $typeName) { $typeName = 'ExchangeMfa.' + ($CmdletName -split '-', 2)[-1] }

    $id = $target.Helper.Send('invoke', $params, $Cmdlet)
    [pscustomobject]@{
        Helper       = $target.Helper
        Id           = $id
        Cmdlet       = $Cmdlet
        CmdletName   = $CmdletName
        TypeName     = $typeName
        TargetObject = $TargetObject
        Activity     = "$CmdletName ($($target.ConnectionId))"
    }
}

function Stop-ExchangeMfaStream {
    # A stream that will not be read: the helper stops it at once.
    param([Parameter(Mandatory)] $Stream)
    $Stream.Helper.Complete($Stream.Id, $true)
}

function Receive-ExchangeMfaStream {
    # Writes a started stream's objects, warnings and error to its command's
    # pipeline until the reply, and ends the request.
    param([Parameter(Mandatory)] $Stream)
    $helper = $Stream.Helper
    $id = $Stream.Id
    $Cmdlet = $Stream.Cmdlet
    $typeName = $Stream.TypeName
    $activity = $Stream.Activity
    # The objects themselves go to the pipeline in compiled code; what comes
    # back here is a page, a warning, the reply, or an object the compiled
    # reader leaves to PowerShell's (handled below the same way).
    $sink = [ExchangeMfa.ObjectSink]::new($Cmdlet, $id, $typeName)
    $progressId = [int]($id % [int]::MaxValue)
    $answered = $false
    $progressShown = $false
    $timeout = $script:InvokeIdleTimeoutSeconds
    try {
        while ($true) {
            $message = $helper.Receive($id, $timeout, $Cmdlet, $sink)
            $method = $message.method
            if ('object' -eq $method) {
                $value = $message.params.value
                if ($null -ne $value) {
                    $types = $message.params.types
                    if ($null -ne $types) { [ExchangeMfa.TypedValues]::Apply($value, $types) }
                    $value.PSObject.TypeNames.Insert(0, $typeName)
                    $Cmdlet.WriteObject($value)
                }
            }
            elseif ('page' -eq $method) {
                # The page's objects went down the pipeline: the helper may
                # fetch the page after next.
                $page = $message.params
                $helper.Notify("{""jsonrpc"":""2.0"",""method"":""ack"",""params"":{""id"":$id,""page"":$($page.page)}}")
                if ($page.more -or $progressShown) {
                    $progressShown = $true
                    Write-Progress -Id $progressId -Activity $activity -Status "$($page.objects) objects, $($page.page) pages"
                }
            }
            elseif ('warning' -eq $method) {
                $Cmdlet.WriteWarning([string]$message.params.message)
            }
            elseif ($null -eq $method) {
                $answered = $true
                if ($message.error) {
                    $record = [ExchangeMfa.ErrorRecords]::FromHelper($message.error, $Stream.TargetObject)
                    $name = [string]$message.error.data.name
                    if ($script:TerminatingInvokeErrors -contains $name) { $Cmdlet.ThrowTerminatingError($record) }
                    $Cmdlet.WriteError($record)
                }
                else {
                    $Cmdlet.WriteVerbose("$($Stream.CmdletName): $($message.result.objects) objects in $($message.result.pages) pages.")
                }
                return
            }
        }
    }
    finally {
        # Runs when the pipeline is stopped too (Ctrl+C, Select-Object -First):
        # the helper stops paging at once.
        $helper.Complete($id, -not $answered)
        if ($progressShown) { Write-Progress -Id $progressId -Activity $activity -Completed }
        $helper.ReadStderr($Cmdlet)
    }
}
