# Connection objects and the default connections after a disconnect. The
# defaults themselves ($script:DefaultConnectionId and
# $script:DefaultComplianceConnectionId), $script:CompliancePrefixes (S&C
# connection id -> its -Prefix) and $script:ConnectionNumbers are shared by
# every runspace (SharedState, module/Types/HelperChannel.cs); the
# ExchangeMfa.Connection object and the registration of a new connection are
# compiled (module/Types/Connections.cs, SignIn.cs).

function Unregister-Connection {
    # Forgets a closed connection; a new default is picked among the
    # remaining connections of its product by Update-DefaultConnection.
    param([Parameter(Mandatory)] [string] $ConnectionId)
    $script:CompliancePrefixes.Remove($ConnectionId)
    if ($script:DefaultConnectionId -eq $ConnectionId) { $script:DefaultConnectionId = $null }
    if ($script:DefaultComplianceConnectionId -eq $ConnectionId) { $script:DefaultComplianceConnectionId = $null }
}

function Update-DefaultConnection {
    # After a disconnect: the newest remaining connection of each product
    # becomes its default when it has none.
    param([object[]] $Sessions)
    $exchange = @($Sessions | Where-Object { [ExchangeMfa.Connections]::ProductOf($_) -eq 'ExchangeOnline' })
    $compliance = @($Sessions | Where-Object { [ExchangeMfa.Connections]::ProductOf($_) -eq 'SecurityCompliance' })
    if (-not $script:DefaultConnectionId -and $exchange.Count) { $script:DefaultConnectionId = [string]$exchange[-1].connectionId }
    if (-not $script:DefaultComplianceConnectionId -and $compliance.Count) {
        $script:DefaultComplianceConnectionId = [string]$compliance[-1].connectionId
    }
}

# connection id -> Get-ConnectionInformation's Id (1, 2, ...): numbered in
# the order this session first saw them, never reused, like Microsoft's.
# ($script:ConnectionNumbers, shared by every runspace.)

function Get-TokenStatus {
    # The helper's tokenStatus when it sends one (docs/protocol.md), else
    # derived from the state and the expiry: Active, Expired or Closed.
    param([Parameter(Mandatory)] [object] $Session, $ExpiresUtc)
    if ($Session.tokenStatus) { return [string]$Session.tokenStatus }
    if ([string]$Session.state -eq 'Closed') { return 'Closed' }
    if ($ExpiresUtc -and $ExpiresUtc -le [datetime]::UtcNow) { 'Expired' } else { 'Active' }
}

function ConvertTo-ConnectionInformation {
    # A helper session object -> ExchangeMfa.ConnectionInformation, the
    # fields of Microsoft's Get-ConnectionInformation (docs/module.md).
    param([Parameter(Mandatory)] [object] $Session)
    $id = [string]$Session.connectionId
    if (-not $script:ConnectionNumbers.ContainsKey($id)) {
        $script:ConnectionNumbers[$id] = $script:ConnectionNumbers.Count + 1
    }
    $number = $script:ConnectionNumbers[$id]
    $isEop = [ExchangeMfa.Connections]::ProductOf($Session) -eq 'SecurityCompliance'
    $prefix = if ($isEop) { $script:CompliancePrefixes[$id] } else { Get-ExchangeProxyPrefix -ConnectionId $id }
    $expires = [ExchangeMfa.Connections]::ToUtc($Session.tokenExpiresUtc)
    [pscustomobject]@{
        PSTypeName                      = 'ExchangeMfa.ConnectionInformation'
        ConnectionId                    = $id
        State                           = [string]$Session.state
        Id                              = $number
        Name                            = if ($isEop) { "ExchangeOnlineProtection_$number" } else { "ExchangeOnline_$number" }
        UserPrincipalName               = [string]$Session.userPrincipalName
        ConnectionUri                   = [string]$Session.connectionUri
        AzureAdAuthorizationEndpointUri = [string]$Session.authority
        TokenExpiryTimeUTC              = if ($expires) { [datetimeoffset]::new($expires) } else { $null }
        CertificateAuthentication       = [string]$Session.signInMode -eq 'Certificate'
        # The commands of the connection live in this dynamic module.
        ModuleName                      = if ($null -ne $prefix) { Get-ProxyModuleName -Prefix $prefix } else { $null }
        ModulePrefix                    = if ($prefix) { $prefix } else { '' }
        Organization                    = [string]$Session.organization
        DelegatedOrganization           = [string]$Session.delegatedOrganization
        AppId                           = [string]$Session.appId
        PageSize                        = $Session.pageSize
        TenantID                        = [string]$Session.tenantId
        TokenStatus                     = Get-TokenStatus -Session $Session -ExpiresUtc $expires
        ConnectionUsedForInbuiltCmdlets = [ExchangeMfa.Connections]::IsDefault($id)
        IsEopSession                    = $isEop
    }
}

# Microsoft's Connect-ExchangeOnline / Connect-IPPSSession parameters that
# Connect-ExchangeMfa takes under the same name and meaning.
$script:DropInConnectParameters = @(
    'ConnectionUri', 'AzureADAuthorizationEndpointUri', 'ExchangeEnvironmentName', 'DelegatedOrganization',
    'Prefix', 'CommandName', 'AccessToken', 'AppId', 'Certificate', 'CertificateFilePath', 'CertificatePassword',
    'CertificateThumbprint', 'Credential', 'Device', 'InlineCredential', 'ManagedIdentity',
    'ManagedIdentityAccountId', 'Organization', 'PageSize', 'ShowBanner', 'UserPrincipalName', 'ThrottleLimit')

function ConvertTo-ExchangeMfaConnectParameters {
    # The bound parameters of a Microsoft-named Connect command -> the
    # splat for Connect-ExchangeMfa, the one sign-in implementation. Empty
    # values count as not given (Microsoft's module accepts them); the
    # parameters that mean nothing here are reported on the verbose stream;
    # -UseRPSSession gets a warning (REST is used).
    param(
        [Parameter(Mandatory)] [System.Collections.IDictionary] $Bound,
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Cmdlet
    )
    $connect = @{}
    $common = [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters
    foreach ($name in $Bound.Keys) {
        $value = $Bound[$name]
        if ($name -in $script:DropInConnectParameters) {
            if ($null -ne $value -and '' -ne $value) { $connect[$name] = $value }
        }
        elseif ($name -eq 'UseRPSSession') {
            if ($value) {
                $Cmdlet.WriteWarning('Remote PowerShell (RPS) is retired for Exchange Online and Security & Compliance; ExchangeMfa connects over the REST endpoint instead. Remove -UseRPSSession.')
            }
        }
        elseif ($name -notin $common) {
            $Cmdlet.WriteVerbose("-$name has no meaning for ExchangeMfa and is ignored (see Get-Help $($Cmdlet.MyInvocation.MyCommand.Name) -Parameter $name).")
        }
    }
    $connect
}
