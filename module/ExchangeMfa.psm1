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

# Ending the helper when the module goes away is a courtesy: the helper also
# exits by itself when its stdin closes, so neither hook is relied upon.
$ExecutionContext.SessionState.Module.OnRemove = {
    Stop-HelperProcess
    # The generated Exchange commands cannot work without this module.
    Remove-ExchangeProxyModule -All
}
