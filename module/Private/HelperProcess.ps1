# The helper's lifetime: started lazily by Get-HelperProcess, ended by
# Stop-HelperProcess. One helper serves the whole PowerShell session.

# Seconds to wait for the helper's first answer and for simple requests.
$script:RequestTimeoutSeconds = 30

function Get-HelperPath {
    # EXCHANGEMFA_HELPER points at another build (a sanitizer build, a
    # packaged copy); otherwise the helper lives in module/bin/.
    if ($env:EXCHANGEMFA_HELPER) { return $env:EXCHANGEMFA_HELPER }
    Join-Path (Split-Path $PSScriptRoot -Parent) 'bin/exchangemfa-helper'
}

function Get-HelperProcess {
    # Returns the running helper, starting it when needed. Idempotent.
    # -NoStart: return $null instead of starting one (nothing is connected).
    # -ReplaceExited: a helper that died is replaced silently (Connect);
    # otherwise a dead helper is a terminating HelperExited error, because
    # every connection it held is gone.
    param(
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Cmdlet,
        [switch] $NoStart,
        [switch] $ReplaceExited
    )
    $helper = $script:Helper
    if ($helper) {
        if (-not $helper.Process.HasExited) { return $helper }
        $exitCode = $helper.Process.ExitCode
        Stop-HelperProcess
        if (-not $ReplaceExited) {
            $record = New-ExchangeMfaErrorRecord -Name HelperExited `
                -Message "The ExchangeMfa helper exited (exit code $exitCode); its connections are gone. Run Connect-ExchangeMfa again."
            $Cmdlet.ThrowTerminatingError($record)
        }
        Write-Verbose "The previous helper exited (exit code $exitCode); starting a new one."
    }
    if ($NoStart) { return $null }
    Start-HelperProcess -Cmdlet $Cmdlet
}

function Start-HelperProcess {
    param([Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Cmdlet)

    $path = Get-HelperPath
    if (-not (Test-Path -LiteralPath $path -PathType Leaf)) {
        $record = New-ExchangeMfaErrorRecord -Name HelperNotFound -TargetObject $path `
            -Message "The ExchangeMfa helper was not found at '$path'. Build it with ./build.sh."
        $Cmdlet.ThrowTerminatingError($record)
    }

    $utf8 = [System.Text.UTF8Encoding]::new($false)
    $startInfo = [System.Diagnostics.ProcessStartInfo]::new($path)
    $startInfo.UseShellExecute = $false
    $startInfo.CreateNoWindow = $true
    $startInfo.RedirectStandardInput = $true
    $startInfo.RedirectStandardOutput = $true
    $startInfo.RedirectStandardError = $true
    $startInfo.StandardInputEncoding = $utf8
    $startInfo.StandardOutputEncoding = $utf8
    $startInfo.StandardErrorEncoding = $utf8
    # No arguments in protocol version 1; ArgumentList (never a joined
    # string) is where they will go. Secrets never travel in argv.

    $process = [System.Diagnostics.Process]::new()
    $process.StartInfo = $startInfo

    # stderr lines and the helper's end when PowerShell exits: compiled
    # (module/Types/HelperProcess.cs), far cheaper to start than event
    # subscriptions. Read-HelperStderr turns the lines into Write-Verbose on
    # the caller's thread.
    Import-ExchangeMfaTypes
    $guard = [ExchangeMfa.HelperGuard]::new($process)
    try {
        [void]$process.Start()
    }
    catch {
        $guard.Dispose()
        $record = New-ExchangeMfaErrorRecord -Name HelperNotFound -TargetObject $path `
            -Message "The ExchangeMfa helper at '$path' could not be started: $($_.Exception.Message)"
        $Cmdlet.ThrowTerminatingError($record)
    }
    $process.BeginErrorReadLine()

    $writer = $process.StandardInput
    $writer.AutoFlush = $true
    $writer.NewLine = "`n"

    $helper = @{
        Process             = $process
        Writer              = $writer
        Reader              = $process.StandardOutput
        PendingRead         = $null
        NextId              = 0
        Inbox               = [System.Collections.Generic.Dictionary[long, System.Collections.Generic.Queue[object]]]::new()
        Guard               = $guard
        Path                = $path
        Stopped             = $false
        Version             = $null
    }
    $script:Helper = $helper
    Write-Verbose "Started the ExchangeMfa helper '$path' (process $($process.Id))."

    $reply = Invoke-HelperRequest -Helper $helper -Method initialize -Cmdlet $Cmdlet -Params ([ordered]@{
            protocolVersion = 1
            client          = 'ExchangeMfa/0.1.0'
        })
    if ($reply.error -or $reply.result.protocolVersion -ne 1) {
        $seen = if ($reply.error) { $reply.error.message } else { "protocol version $($reply.result.protocolVersion)" }
        Stop-HelperProcess
        $record = New-ExchangeMfaErrorRecord -Name ProtocolViolation -TargetObject $path `
            -Message "The ExchangeMfa helper at '$path' does not speak protocol version 1 ($seen)."
        $Cmdlet.ThrowTerminatingError($record)
    }
    $helper.Version = $reply.result.helperVersion
    Write-Verbose "ExchangeMfa helper $($helper.Version) speaks protocol version 1."
    $helper
}

function Stop-HelperProcess {
    # Ends the helper: a shutdown request, stdin closed, a short wait, a kill
    # as a last resort. Never throws; safe to call when nothing runs.
    $helper = $script:Helper
    if (-not $helper) { return }
    $script:Helper = $null
    $script:DefaultConnectionId = $null
    $script:DefaultComplianceConnectionId = $null
    # The connections are gone, and so are the commands bound to them.
    Remove-ExchangeProxyModule -All
    $helper.Stopped = $true
    $process = $helper.Process
    try {
        if (-not $process.HasExited) {
            $id = ++$helper.NextId
            $helper.Writer.WriteLine("{""jsonrpc"":""2.0"",""id"":$id,""method"":""shutdown""}")
            $helper.Writer.Close()
            # Read (and drop) what the helper still writes, such as the rest of
            # a cancelled page: a helper blocked on a full pipe cannot exit.
            $deadline = [datetime]::UtcNow.AddSeconds(5)
            while (-not $process.HasExited -and [datetime]::UtcNow -lt $deadline) {
                if ($null -eq $helper.PendingRead) { $helper.PendingRead = $helper.Reader.ReadLineAsync() }
                if (-not $helper.PendingRead.Wait(100)) { continue }
                $eof = $null -eq $helper.PendingRead.Result
                $helper.PendingRead = $null
                if ($eof) { break }
            }
            if (-not $process.WaitForExit(5000)) {
                Write-Verbose "The ExchangeMfa helper did not exit in time; killing it."
                $process.Kill($true)
                [void]$process.WaitForExit(2000)
            }
        }
    }
    catch {
        Write-Debug "Stopping the ExchangeMfa helper: $($_.Exception.Message)"
        try { if (-not $process.HasExited) { $process.Kill($true) } } catch { $null = $_ }
    }
    Read-HelperStderr -Helper $helper
    $helper.Guard.Dispose()
    $process.Dispose()
}

function Read-HelperStderr {
    # Moves the helper's diagnostics (plain lines, never secrets) to the
    # verbose stream of whoever is waiting on the helper.
    param([Parameter(Mandatory)] [hashtable] $Helper)
    foreach ($text in $Helper.Guard.TakeStderr()) { Write-Verbose "exchangemfa-helper: $text" }
}
