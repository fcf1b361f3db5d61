# The views of ExchangeMfa's objects: a module of their own, which
# Connect-ExchangeMfa imports (docs/module.md, Formatting), so that
# importing ExchangeMfa itself loads no format data.
@{
    ModuleVersion     = '0.1.0'
    GUID              = '5311ff4b-8340-4be2-9380-f18c33eadf87'
    Author            = 'ExchangeMfa contributors'
    Description       = 'The views of ExchangeMfa objects, imported by Connect-ExchangeMfa.'
    PowerShellVersion = '7.4'
    FormatsToProcess  = @('ExchangeMfa.format.ps1xml')
    FunctionsToExport = @()
    CmdletsToExport   = @()
    VariablesToExport = @()
    AliasesToExport   = @()
}
