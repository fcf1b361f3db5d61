# Session objects and the default connection. The helper owns the
# connections (and their tokens); the module only remembers which one is
# the default for Exchange commands.

function ConvertTo-UtcDateTime {
    # The JSON reader already turns ISO 8601 strings into DateTime; accept
    # a string too.
    param($Value)
    if ($null -eq $Value -or '' -eq $Value) { return $null }
    if ($Value -is [datetime]) { return $Value.ToUniversalTime() }
    [datetime]::Parse([string]$Value, [System.Globalization.CultureInfo]::InvariantCulture,
        [System.Globalization.DateTimeStyles]'AdjustToUniversal, AssumeUniversal')
}

function ConvertTo-ExchangeMfaConnection {
    # A helper session object -> ExchangeMfa.Connection. Only the fields the
    # protocol documents are copied, so nothing else can leak through.
    param([Parameter(Mandatory)] [object] $Session)
    [pscustomobject]@{
        PSTypeName                      = 'ExchangeMfa.Connection'
        ConnectionId                    = [string]$Session.connectionId
        State                           = [string]$Session.state
        UserPrincipalName               = [string]$Session.userPrincipalName
        TenantId                        = [string]$Session.tenantId
        Organization                    = [string]$Session.organization
        Environment                     = [string]$Session.environment
        ConnectionUri                   = [string]$Session.connectionUri
        AzureADAuthorizationEndpointUri = [string]$Session.authority
        AppId                           = [string]$Session.appId
        SignInMode                      = [string]$Session.signInMode
        TokenExpiresUtc                 = ConvertTo-UtcDateTime $Session.tokenExpiresUtc
        PageSize                        = $Session.pageSize
        IsDefault                       = ([string]$Session.connectionId -eq $script:DefaultConnectionId)
        # '' = the unprefixed commands; $null = no commands (a prefix moved on).
        ModulePrefix                    = Get-ExchangeProxyPrefix -ConnectionId ([string]$Session.connectionId)
    }
}

function Get-HelperConnectionList {
    # The helper's `list`: current sessions in the order opened.
    param(
        [Parameter(Mandatory)] [hashtable] $Helper,
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Cmdlet
    )
    $reply = Invoke-HelperRequest -Helper $Helper -Method list -Cmdlet $Cmdlet
    if ($reply.error) {
        $Cmdlet.ThrowTerminatingError((ConvertTo-ExchangeMfaErrorRecord -HelperError $reply.error))
    }
    @($reply.result.connections)
}

function Resolve-ExchangeMfaTarget {
    # The helper and connection id an Exchange command uses: -ConnectionId
    # when given (the helper checks it), else the default connection.
    param(
        [string] $ConnectionId,
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Cmdlet
    )
    $helper = Get-HelperProcess -Cmdlet $Cmdlet -NoStart
    if (-not $ConnectionId) { $ConnectionId = $script:DefaultConnectionId }
    if (-not $helper -or -not $ConnectionId) {
        $record = New-ExchangeMfaErrorRecord -Name NotConnected `
            -Message 'There is no connection to Exchange Online. Run Connect-ExchangeMfa -Device first.'
        $Cmdlet.ThrowTerminatingError($record)
    }
    [pscustomobject]@{ Helper = $helper; ConnectionId = $ConnectionId }
}
