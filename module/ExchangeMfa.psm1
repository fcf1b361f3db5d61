# ExchangeMfa root module. Import does no work beyond defining functions: the
# helper process starts on first use (see Private/HelperProcess.ps1).

# Version 1: catches unset variables; helper messages have optional fields,
# so reading an absent property must stay legal (it yields $null).
Set-StrictMode -Version 1.0

foreach ($folder in 'Private', 'Public') {
    $files = Get-ChildItem -Path (Join-Path $PSScriptRoot $folder) -Filter '*.ps1' -File -ErrorAction Ignore
    foreach ($file in $files) {
        . $file.FullName
    }
}

# Module state. One helper serves the whole session; see docs/module.md.
$script:Helper = $null
$script:DefaultConnectionId = $null

# The proxy commands (module/Commands, made by the build) autoload from
# PSModulePath: this process only, taken back out in OnRemove.
$script:CommandsFolder = [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot 'Commands'))
$script:AddedCommandsFolder = $false
if ([System.IO.Directory]::Exists($script:CommandsFolder) -and
    ($env:PSModulePath -split [System.IO.Path]::PathSeparator) -notcontains $script:CommandsFolder) {
    $env:PSModulePath = [string]::Join([System.IO.Path]::PathSeparator, [string[]]@(@($env:PSModulePath -split [System.IO.Path]::PathSeparator | Where-Object { $_ }) + $script:CommandsFolder))
    $script:AddedCommandsFolder = $true
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
    try { Invoke-ExchangeCommandNotFound -Name $Name -EventArgs $EventArgs }
    finally { $script:LookingUpSuggestion = $false }
}
$script:LookingUpSuggestion = $false
# The delegate PowerShell made of the script block: OnRemove compares it.
$script:CommandNotFoundAction = $ExecutionContext.InvokeCommand.CommandNotFoundAction

# Ending the helper when the module goes away is a courtesy: the helper also
# exits by itself when its stdin closes, so neither hook is relied upon.
$ExecutionContext.SessionState.Module.OnRemove = {
    Stop-HelperProcess
    # The Exchange commands and aliases cannot work without this module.
    Remove-ExchangeProxyModule -All
    Remove-ExchangeProxyGroupModule
    if ($script:AddedCommandsFolder) {
        $env:PSModulePath = [string]::Join([System.IO.Path]::PathSeparator, [string[]]@($env:PSModulePath -split [System.IO.Path]::PathSeparator | Where-Object { $_ -and $_ -ne $script:CommandsFolder }))
    }
    if ($ExecutionContext.InvokeCommand.CommandNotFoundAction -eq $script:CommandNotFoundAction) {
        $ExecutionContext.InvokeCommand.CommandNotFoundAction = $script:PreviousCommandNotFoundAction
    }
}
