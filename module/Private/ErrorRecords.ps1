# Turns helper errors (docs/protocol.md "Errors") and module failures into
# ErrorRecords with a stable ErrorId, a category and a recommended action.

# name -> ErrorCategory. Names not listed map to NotSpecified.
$script:ErrorCategoryByName = @{
    OutOfMemory           = 'ResourceUnavailable'
    InvalidParams         = 'InvalidArgument'
    ParseError            = 'ProtocolError'
    InvalidRequest        = 'ProtocolError'
    MethodNotFound        = 'ProtocolError'
    Cancelled             = 'OperationStopped'
    Timeout               = 'OperationTimeout'
    NetworkError          = 'ConnectionError'
    TlsError              = 'ConnectionError'
    HttpError             = 'InvalidResult'
    BadResponse           = 'ProtocolError'
    AuthenticationFailed  = 'AuthenticationError'
    AuthorizationDeclined = 'AuthenticationError'
    DeviceCodeExpired     = 'OperationTimeout'
    MfaRequired           = 'AuthenticationError'
    InvalidGrant          = 'AuthenticationError'
    InvalidToken          = 'SecurityError'
    ConnectionNotFound    = 'InvalidOperation'
    ExchangeError         = 'InvalidOperation'
    Throttled             = 'LimitsExceeded'
    AccessDenied          = 'PermissionDenied'
    Unauthorized          = 'AuthenticationError'
    Internal              = 'NotSpecified'
    ConfigurationError    = 'InvalidArgument'
    AccountDisabled       = 'AuthenticationError'
    NotFound              = 'ObjectNotFound'
    # Exchange exception classes, refined from ExchangeError (below).
    AlreadyExists         = 'ResourceExists'
    Ambiguous             = 'InvalidArgument'
    InvalidParameter      = 'InvalidArgument'
    CommandNotFound       = 'ObjectNotFound'
    InvalidData           = 'InvalidData'
    TenantNotFound        = 'ObjectNotFound'
    ServerBusy            = 'ResourceBusy'
    # Module-side failures.
    UnknownCommandName    = 'InvalidArgument'
    HelperNotFound        = 'ResourceUnavailable'
    HelperExited          = 'ResourceUnavailable'
    ProtocolViolation     = 'ProtocolError'
    NotConnected          = 'InvalidOperation'
}

$script:RecommendedActionByName = @{
    Cancelled             = 'Run the command again when you want it to finish.'
    Timeout               = 'Check the network path to the service and run the command again.'
    NetworkError          = 'Check the network connection, proxy and DNS, then run the command again.'
    TlsError              = 'Check the system clock and the certificate trust store (EXCHANGEMFA_CA_FILE in tests).'
    BadResponse           = 'The service answered something unexpected. Run the command again; if it persists, report it with the -Debug output.'
    AuthenticationFailed  = 'Check the user name, the tenant and the application id, then run Connect-ExchangeMfa again.'
    AuthorizationDeclined = 'The sign-in was declined. Run Connect-ExchangeMfa -Device again and approve the code.'
    DeviceCodeExpired     = 'Nobody approved the code in time. Run Connect-ExchangeMfa -Device again and enter the code sooner.'
    MfaRequired           = 'The account needs multi-factor authentication, which a password alone cannot answer: use Connect-ExchangeMfa -Device, or the browser sign-in (Connect-ExchangeMfa without -Credential).'
    InvalidGrant          = 'The sign-in expired or was revoked. Run Connect-ExchangeMfa again (in the browser, or with -Device).'
    InvalidToken          = 'A token failed validation. With -AccessToken, get a new token for Exchange Online (it cannot be renewed); otherwise check -ExchangeEnvironmentName, -AzureADAuthorizationEndpointUri and the system clock.'
    ConnectionNotFound    = 'Run Get-ExchangeMfaConnection to see the open connections, or Connect-ExchangeMfa to open one.'
    ExchangeError         = 'Check the cmdlet parameters; the message comes from Exchange.'
    Throttled             = 'Exchange throttled the request. Wait and run the command again, or use a smaller -ResultSize.'
    AccessDenied          = 'The account lacks the Exchange role for this cmdlet. Ask an administrator to assign it.'
    Unauthorized          = 'Exchange refused the token. Run Connect-ExchangeMfa -Device again.'
    Internal              = 'This is a bug in the helper. Report it with the -Debug output.'
    ConfigurationError    = 'Check -Organization, -AppId and -ExchangeEnvironmentName: the tenant or application was not found in that cloud.'
    AccountDisabled       = 'The account is disabled, locked or its password expired. Contact your administrator.'
    NotFound              = 'Check the identity. Run Get-Mailbox without -Identity to list what exists.'
    AlreadyExists         = 'An object with that name or address exists already. Pick another one, or change the existing object with its Set- command.'
    Ambiguous             = 'The identity matches more than one object. Use a unique value: the email address, GUID or distinguished name.'
    InvalidParameter      = 'Exchange did not accept a parameter or its value. Check the parameters with Get-Help for the command.'
    CommandNotFound       = 'Exchange does not know this cmdlet, or the account''s roles do not include it.'
    InvalidData           = 'Exchange rejected a value. Check the values against the message.'
    TenantNotFound        = 'Check -Organization or -DelegatedOrganization: Exchange does not know that tenant.'
    ServerBusy            = 'Exchange was busy or in maintenance. Wait a minute and run the command again.'
    UnknownCommandName    = 'Check the names against the catalogue (module/Data/ExchangeCommands.json), or use Invoke-ExchangeMfaCommand.'
    HelperNotFound        = 'Install the ExchangeMfa package built for this platform, build the helper with ./build.sh, or set EXCHANGEMFA_HELPER to its path.'
    HelperExited          = 'The helper stopped and its connections are gone. Run Connect-ExchangeMfa -Device again.'
    ProtocolViolation     = 'The module and the helper disagree on the protocol. Rebuild the helper with ./build.sh.'
    NotConnected          = 'Run Connect-ExchangeMfa -Device first.'
}

# Exchange exception class (short name) -> error name. Exchange reports the
# class in innererror.type and x-ExceptionType; the helper passes it as
# data.exceptionType (else it may be the serverCode).
$script:ErrorNameByExchangeClass = @{
    ManagementObjectNotFoundException      = 'NotFound'
    ManagementObjectAlreadyExistsException = 'AlreadyExists'
    ADObjectAlreadyExistsException         = 'AlreadyExists'
    ProxyAddressExistsException            = 'AlreadyExists'
    ManagementObjectAmbiguousException     = 'Ambiguous'
    ParameterBindingException              = 'InvalidParameter'
    ParameterBindingValidationException    = 'InvalidParameter'
    ParameterTransformationException       = 'InvalidParameter'
    AmbiguousParameterSetException         = 'InvalidParameter'
    ValidationMetadataException            = 'InvalidParameter'
    TaskArgumentException                  = 'InvalidParameter'
    CommandNotFoundException               = 'CommandNotFound'
    AccessDeniedException                  = 'AccessDenied'
    CmdletAccessDeniedException            = 'AccessDenied'
    UnauthorizedAccessException            = 'AccessDenied'
    ThrottlingException                    = 'Throttled'
    OverBudgetException                    = 'Throttled'
    DataValidationException                = 'InvalidData'
    ValidationException                    = 'InvalidData'
    TenantNotFoundException                = 'TenantNotFound'
    DCOverloadedException                  = 'ServerBusy'
    ServerInMMException                    = 'ServerBusy'
    StorageTransientException              = 'ServerBusy'
    ADTransientException                   = 'ServerBusy'
}

function New-ExchangeMfaErrorRecord {
    # Builds an ErrorRecord with ErrorId "ExchangeMfa.<Name>". Extra helper
    # fields (httpStatus, serverCode, exceptionType, aadsts, retryAfter) go into the
    # exception's Data so scripts can branch on them.
    param(
        [Parameter(Mandatory)] [string] $Name,
        [Parameter(Mandatory)] [string] $Message,
        [object] $TargetObject,
        [object] $Data
    )
    $category = $script:ErrorCategoryByName[$Name]
    if (-not $category) { $category = 'NotSpecified' }
    $exception = switch ($category) {
        'OperationTimeout' { [System.TimeoutException]::new($Message) }
        'PermissionDenied' { [System.UnauthorizedAccessException]::new($Message) }
        'InvalidArgument' { [System.ArgumentException]::new($Message) }
        'OperationStopped' { [System.OperationCanceledException]::new($Message) }
        default { [System.InvalidOperationException]::new($Message) }
    }
    $exception.Data['ExchangeMfa.Name'] = $Name
    if ($Data) {
        foreach ($field in 'httpStatus', 'serverCode', 'exceptionType', 'aadsts', 'retryAfter') {
            $value = $Data.$field
            if ($null -ne $value) { $exception.Data["ExchangeMfa.$field"] = $value }
        }
    }
    $record = [System.Management.Automation.ErrorRecord]::new($exception, "ExchangeMfa.$Name",
        [System.Management.Automation.ErrorCategory]$category, $TargetObject)
    $action = $script:RecommendedActionByName[$Name]
    if ($action) {
        $record.ErrorDetails = [System.Management.Automation.ErrorDetails]::new($Message)
        $record.ErrorDetails.RecommendedAction = $action
    }
    $record
}

function ConvertTo-ExchangeMfaErrorRecord {
    # Turns a helper error reply ({"code","message","data":{"name",...}}) into
    # an ErrorRecord. The target is the helper's `target` when it names one,
    # else what the caller was working on.
    param(
        [Parameter(Mandatory)] [object] $HelperError,
        [object] $TargetObject
    )
    $data = $HelperError.data
    $name = if ($data -and $data.name) { [string]$data.name } else { 'Internal' }
    if ($name -eq 'ExchangeError') {
        # A generic Exchange failure gets the name of its exception class.
        foreach ($class in $data.exceptionType, $data.serverCode) {
            if (-not $class) { continue }
            $short = ([string]$class -split '\.')[-1]
            if ($script:ErrorNameByExchangeClass.ContainsKey($short)) { $name = $script:ErrorNameByExchangeClass[$short]; break }
        }
    }
    $target = if ($data -and $data.target) { $data.target } else { $TargetObject }
    $message = [string]$HelperError.message
    if (-not $message) { $message = "The helper reported $name." }
    New-ExchangeMfaErrorRecord -Name $name -Message $message -TargetObject $target -Data $data
}
