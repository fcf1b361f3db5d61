# The helper's lifetime: started lazily by Get-HelperProcess, ended by
# Stop-HelperProcess. One helper serves the whole PowerShell process: every
# runspace's instance of the module shares it ($script:Helper is a
# SharedVariable, see ExchangeMfa.psm1).

# Seconds to wait for the helper's first answer and for simple requests.
$script:RequestTimeoutSeconds = 30

function Get-HelperPlatform {
    # .NET's runtime identifier of this platform (linux-x64, win-x64,
    # osx-arm64, ...), from the OS and the process's architecture: an x64
    # PowerShell under emulation runs an x64 helper the same way. Not
    # RuntimeInformation.RuntimeIdentifier, which a distribution's own .NET
    # build reports as e.g. ubuntu.24.04-x64.
    $os = if ($IsWindows) { 'win' } elseif ($IsMacOS) { 'osx' } else { 'linux' }
    $architecture = [System.Runtime.InteropServices.RuntimeInformation]::ProcessArchitecture
    "$os-$($architecture.ToString().ToLowerInvariant())"
}

function Get-HelperPath {
    # EXCHANGEMFA_HELPER points at another build (a sanitizer build, a
    # packaged copy); otherwise the platform's helper in module/bin/<rid>/.
    if ($env:EXCHANGEMFA_HELPER) { return $env:EXCHANGEMFA_HELPER }
    $name = if ($IsWindows) { 'exchangemfa-helper.exe' } else { 'exchangemfa-helper' }
    # .NET, not Join-Path: Connect loads none of PowerShell's own modules
    # (docs/decisions.md, "Import and Connect time").
    [System.IO.Path]::Combine([System.IO.Path]::GetDirectoryName($PSScriptRoot), 'bin', (Get-HelperPlatform), $name)
}

function Set-HelperExecutable {
    # A .nupkg is a zip without Unix modes (NuGet drops them when packing,
    # NuGet/Home#13121), so Install-PSResource leaves the helper without its
    # execute bit: given back where the file is readable, once.
    param(
        [Parameter(Mandatory)] [string] $Path,
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Cmdlet
    )
    if ($IsWindows) { return }
    $mode = [System.IO.File]::GetUnixFileMode($Path)
    if ($mode.HasFlag([System.IO.UnixFileMode]::UserExecute)) { return }
    foreach ($pair in ('UserRead', 'UserExecute'), ('GroupRead', 'GroupExecute'), ('OtherRead', 'OtherExecute')) {
        if ($mode.HasFlag([System.IO.UnixFileMode]$pair[0])) { $mode = $mode -bor [System.IO.UnixFileMode]$pair[1] }
    }
    try {
        [System.IO.File]::SetUnixFileMode($Path, $mode)
        $Cmdlet.WriteVerbose("Made the ExchangeMfa helper '$Path' executable (the package does not keep Unix file modes).")
    }
    catch {
        $record = New-ExchangeMfaErrorRecord -Name HelperNotFound -TargetObject $Path `
            -Message "The ExchangeMfa helper at '$Path' is not executable and this account cannot change that ($($_.Exception.Message)). Run once: chmod a+x '$Path'"
        $Cmdlet.ThrowTerminatingError($record)
    }
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
        Stop-HelperProcess -Helper $helper
        if (-not $ReplaceExited) {
            $record = New-ExchangeMfaErrorRecord -Name HelperExited `
                -Message "The ExchangeMfa helper exited (exit code $exitCode); its connections are gone. Run Connect-ExchangeMfa again."
            $Cmdlet.ThrowTerminatingError($record)
        }
        Write-Verbose "The previous helper exited (exit code $exitCode); starting a new one."
    }
    if ($NoStart) { return $null }
    # One helper for the process: a runspace that finds none starts it while
    # the others wait, then they all use it.
    $lock = [ExchangeMfa.SharedState]::StartLock
    [System.Threading.Monitor]::Enter($lock)
    try {
        if ($script:Helper) { return $script:Helper }
        Start-HelperProcess -Cmdlet $Cmdlet
    }
    finally { [System.Threading.Monitor]::Exit($lock) }
}

function Start-HelperProcess {
    param([Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Cmdlet)

    $path = Get-HelperPath
    if (-not [System.IO.File]::Exists($path)) {
        $platform = Get-HelperPlatform
        $shipped = @(Get-ChildItem -LiteralPath (Join-Path (Split-Path $PSScriptRoot -Parent) 'bin') -Directory -ErrorAction Ignore |
                Where-Object { Get-ChildItem -LiteralPath $_.FullName -Filter 'exchangemfa-helper*' } | ForEach-Object Name)
        $has = if ($shipped) { "This copy of the module has helpers for: $($shipped -join ', ')." } else { 'This copy of the module has no helper.' }
        $record = New-ExchangeMfaErrorRecord -Name HelperNotFound -TargetObject $path `
            -Message "The ExchangeMfa helper for $platform was not found at '$path'. $has Build one for $platform from source (./build.sh in a clone of the repository), or set EXCHANGEMFA_HELPER to a helper's path."
        $Cmdlet.ThrowTerminatingError($record)
    }
    Set-HelperExecutable -Path $path -Cmdlet $Cmdlet

    # The process, its stderr lines and its end when PowerShell exits:
    # compiled (module/Types/HelperProcess.cs), far cheaper to start than
    # event subscriptions. Read-HelperStderr turns the lines into
    # Write-Verbose on the caller's thread. EXCHANGEMFA_HELPER_LAUNCHER runs
    # the helper through another program, for tests (`wine`).
    try { $guard = [ExchangeMfa.HelperGuard]::Start($path, $env:EXCHANGEMFA_HELPER_LAUNCHER) }
    catch {
        $record = New-ExchangeMfaErrorRecord -Name HelperNotFound -TargetObject $path `
            -Message "The ExchangeMfa helper at '$path' could not be started: $($_.Exception.GetBaseException().Message)"
        $Cmdlet.ThrowTerminatingError($record)
    }
    $process = $guard.Process

    # Lines go out whole under the channel's lock; its reader thread sorts
    # the helper's lines by request (module/Types/HelperChannel.cs).
    $channel = [ExchangeMfa.HelperChannel]::new($process.StandardInput.BaseStream, $process.StandardOutput.BaseStream)

    # Every runspace's module instance uses this table: thread-safe.
    $helper = [hashtable]::Synchronized(@{
            Process = $process
            Channel = $channel
            Guard   = $guard
            Path    = $path
            Stopped = $false
            Version = $null
        })
    $script:Helper = $helper
    $script:StartedHelper = $helper
    $Cmdlet.WriteVerbose("Started the ExchangeMfa helper '$path' (process $($process.Id)).")

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
    $Cmdlet.WriteVerbose("ExchangeMfa helper $($helper.Version) speaks protocol version 1.")
    $helper
}

function Stop-HelperProcess {
    # Ends the helper: a shutdown request, stdin closed, a short wait, a kill
    # as a last resort. Never throws; safe to call when nothing runs, and
    # from several runspaces at once (one of them does the work).
    # -Helper: that helper only (one that died), never a newer one another
    # runspace started meanwhile.
    param([hashtable] $Helper = $script:Helper)
    $helper = $Helper
    if (-not $helper) { return }
    if ([ExchangeMfa.SharedState]::Replace('Helper', $helper, $null)) {
        $script:DefaultConnectionId = $null
        $script:DefaultComplianceConnectionId = $null
        # The connections are gone, and so are the commands bound to them.
        Remove-ExchangeProxyModule -All
    }
    if (-not $helper.Channel.BeginStop()) { return }
    $helper.Stopped = $true
    $process = $helper.Process
    try {
        if (-not $process.HasExited) {
            $helper.Channel.WriteLine("{""jsonrpc"":""2.0"",""id"":$($helper.Channel.Open()),""method"":""shutdown""}")
            $helper.Channel.CloseInput()
            # The reader thread drops what the helper still writes, such as
            # the rest of a cancelled page: a helper blocked on a full pipe
            # cannot exit.
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
    [void]$helper.Channel.WaitForEnd(2000)
    Read-HelperStderr -Helper $helper
    try { if ($process.HasExited) { $helper.ExitCode = $process.ExitCode } } catch { $null = $_ }
    $helper.Guard.Dispose()
    $process.Dispose()
}

function Read-HelperStderr {
    # Moves the helper's diagnostics (plain lines, never secrets) to the
    # verbose stream of whoever is waiting on the helper. The guard keeps
    # the last lines for the error when the helper dies.
    param([Parameter(Mandatory)] [hashtable] $Helper)
    foreach ($text in $Helper.Guard.TakeStderr()) {
        Write-Verbose "exchangemfa-helper: $text"
    }
}
