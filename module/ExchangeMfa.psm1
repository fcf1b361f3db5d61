# ExchangeMfa root module: the module's script scope. The commands are
# compiled cmdlets (module/Types/Commands, the nested module
# ExchangeMfa.Types.dll, loaded before this file runs); the rare work that is
# script (module/Private) is parsed on first need, into this scope
# (docs/decisions.md, "Compiled commands"). Import does no other work: the
# helper starts on first use (module/Types/Helper.cs).

# Version 1: catches unset variables; helper messages have optional fields,
# so reading an absent property must stay legal (it yields $null).
Set-StrictMode -Version 1.0

# The import's own work, in one compiled call (ModuleSetup.cs): the check
# that the generated runtime script is current, the variables every runspace
# shares (docs/module.md, "Runspaces"), and module/Commands on this process's
# PSModulePath, from where the proxy commands autoload. It sets
# $script:RuntimePath, $script:RuntimeLoaded, $script:CommandsFolder and
# $script:AddedCommandsFolder.
if ($problem = [ExchangeMfa.ModuleSetup]::Initialize($ExecutionContext.SessionState, $PSScriptRoot)) { throw $problem }

# The script functions (module/Private, generated into
# module/Bundle/ExchangeMfa.Runtime.ps1): parsed when a command first needs
# them (ModuleScope.cs). Import, a Connect from a cached token and every
# Exchange command parse none of them.
function Import-ExchangeMfaRuntime {
    # The generator defines the functions as script:<name>, so they land in
    # the module's scope from inside this function.
    if ($script:RuntimeLoaded) { return }
    . $script:RuntimePath
    $script:RuntimeLoaded = $true
}

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
    # The Exchange commands and aliases cannot work without this module. The
    # aliases exist only once the runtime is loaded (Connect -Prefix); the
    # commands' group modules load without it.
    if ($script:RuntimeLoaded) { Remove-ExchangeProxyModule -All }
    Get-Module -Name 'ExchangeMfa.Commands.*' | Remove-Module -Force -ErrorAction Ignore
    if ($script:AddedCommandsFolder) { [ExchangeMfa.ModuleSetup]::RemoveFromModulePath($script:CommandsFolder) }
    if ($ExecutionContext.InvokeCommand.CommandNotFoundAction -eq $script:CommandNotFoundAction) {
        $ExecutionContext.InvokeCommand.CommandNotFoundAction = $script:PreviousCommandNotFoundAction
    }
}

