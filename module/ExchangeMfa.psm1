# ExchangeMfa root module. Import does no work beyond defining functions: the
# helper process starts on first use (see Private/HelperProcess.ps1).

# Version 1: catches unset variables; helper messages have optional fields,
# so reading an absent property must stay legal (it yields $null).
Set-StrictMode -Version 1.0

# The compiled parts (module/Types, built by build.sh into module/bin): loaded
# first, since the import's own work is done there (ModuleSetup.cs).
$null = [System.Reflection.Assembly]::LoadFrom([System.IO.Path]::Combine($PSScriptRoot, 'bin', 'ExchangeMfa.Types.dll'))

# The functions come from two scripts that build.sh generates (module/Bundle,
# at the depth of the sources, so the paths they build from $PSScriptRoot
# hold there too): the commands (module/Public), parsed here, and the
# functions behind them (module/Private), parsed by Import-ExchangeMfaRuntime
# when a command first needs them. Import and a Connect from a cached token,
# whose work is compiled, parse none of those (docs/decisions.md, "The work
# in compiled code, the faces in script"). In a clone, sources changed since
# the last ./build.sh are an error rather than old code run silently.
$script:BundlePath = [System.IO.Path]::Combine($PSScriptRoot, 'Bundle', 'ExchangeMfa.ps1')
$script:RuntimePath = [System.IO.Path]::Combine($PSScriptRoot, 'Bundle', 'ExchangeMfa.Runtime.ps1')
if ($changed = [ExchangeMfa.ModuleSetup]::FindChangedSources($PSScriptRoot)) {
    throw "ExchangeMfa: $changed has changed since module/Bundle was generated (or it is missing). Run ./build.sh in the repository."
}
. $script:BundlePath

$script:RuntimeLoaded = $false
function Import-ExchangeMfaRuntime {
    # The generator defines the functions as script:<name>, so they land in
    # the module's scope from inside this function.
    if ($script:RuntimeLoaded) { return }
    . $script:RuntimePath
    $script:RuntimeLoaded = $true
}

# Module state. One helper serves the whole process, and every instance of
# the module (one a runspace: ForEach-Object -Parallel, thread jobs) shares
# it and the default connections through compiled variables; see
# docs/module.md, "Runspaces".
[ExchangeMfa.SharedState]::Attach($ExecutionContext.SessionState)
# A runspace without the module gets it from here when a proxy command
# autoloads (module/Commands): process-wide, not inherited by child processes.
[System.AppDomain]::CurrentDomain.SetData('ExchangeMfa.Manifest', [System.IO.Path]::Combine([System.IO.Path]::GetDirectoryName($PSScriptRoot), 'ExchangeMfa.psd1'))

# The proxy commands (module/Commands, made by the build) autoload from
# PSModulePath: this process only, taken back out in OnRemove.
$script:CommandsFolder = [System.IO.Path]::GetFullPath([System.IO.Path]::Combine($PSScriptRoot, 'Commands'))
$script:AddedCommandsFolder = [ExchangeMfa.ModuleSetup]::AddToModulePath($script:CommandsFolder)

# A mistyped Exchange name gets the catalogue's closest names; other names
# go on to any handler that was there before.
$script:PreviousCommandNotFoundAction = $ExecutionContext.InvokeCommand.CommandNotFoundAction
$ExecutionContext.InvokeCommand.CommandNotFoundAction = {
    param([string] $Name, [System.Management.Automation.CommandLookupEventArgs] $EventArgs)
    if ($script:PreviousCommandNotFoundAction) {
        $script:PreviousCommandNotFoundAction.Invoke($Name, $EventArgs)
        if ($EventArgs.StopSearch -or $EventArgs.CommandScriptBlock -or $EventArgs.Command) { return }
    }
    # A name missing inside the handler must not call the handler again.
    if ($script:LookingUpSuggestion) { return }
    $script:LookingUpSuggestion = $true
    try {
        Import-ExchangeMfaRuntime
        Invoke-ExchangeCommandNotFound -Name $Name -EventArgs $EventArgs
    }
    finally { $script:LookingUpSuggestion = $false }
}
$script:LookingUpSuggestion = $false
# The delegate PowerShell made of the script block: OnRemove compares it.
$script:CommandNotFoundAction = $ExecutionContext.InvokeCommand.CommandNotFoundAction

# Ending the helper when the module goes away is a courtesy: the helper also
# exits by itself when its stdin closes, so neither hook is relied upon.
$ExecutionContext.SessionState.Module.OnRemove = {
    # Other runspaces may still use a helper this instance did not start.
    if ([ExchangeMfa.SharedState]::StartedCurrentHelper()) { [ExchangeMfa.Helper]::Stop($script:Helper, $null) }
    # The Exchange commands and aliases cannot work without this module
    # (without its runtime, none were used).
    if ($script:RuntimeLoaded) {
        Remove-ExchangeProxyModule -All
        Remove-ExchangeProxyGroupModule
    }
    if ($script:AddedCommandsFolder) { [ExchangeMfa.ModuleSetup]::RemoveFromModulePath($script:CommandsFolder) }
    if ($ExecutionContext.InvokeCommand.CommandNotFoundAction -eq $script:CommandNotFoundAction) {
        $ExecutionContext.InvokeCommand.CommandNotFoundAction = $script:PreviousCommandNotFoundAction
    }
}
