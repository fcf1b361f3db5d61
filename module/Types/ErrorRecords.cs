// Helper errors (docs/protocol.md "Errors") and the module's own failures as
// ErrorRecords: ErrorId "ExchangeMfa.<Name>", a category and a recommended
// action. Compiled, since every command may need one on its first call.
using System;
using System.Collections.Generic;
using System.Management.Automation;

namespace ExchangeMfa
{
    public static class ErrorRecords
    {
        // name -> category; names not listed are NotSpecified.
        private static readonly Dictionary<string, ErrorCategory> categories =
            new Dictionary<string, ErrorCategory>(StringComparer.OrdinalIgnoreCase)
            {
                ["OutOfMemory"] = ErrorCategory.ResourceUnavailable,
                ["InvalidParams"] = ErrorCategory.InvalidArgument,
                ["ParseError"] = ErrorCategory.ProtocolError,
                ["InvalidRequest"] = ErrorCategory.ProtocolError,
                ["MethodNotFound"] = ErrorCategory.ProtocolError,
                ["Cancelled"] = ErrorCategory.OperationStopped,
                ["Timeout"] = ErrorCategory.OperationTimeout,
                ["NetworkError"] = ErrorCategory.ConnectionError,
                ["TlsError"] = ErrorCategory.ConnectionError,
                ["HttpError"] = ErrorCategory.InvalidResult,
                ["BadResponse"] = ErrorCategory.ProtocolError,
                ["AuthenticationFailed"] = ErrorCategory.AuthenticationError,
                ["AuthorizationDeclined"] = ErrorCategory.AuthenticationError,
                ["DeviceCodeExpired"] = ErrorCategory.OperationTimeout,
                ["MfaRequired"] = ErrorCategory.AuthenticationError,
                ["InvalidGrant"] = ErrorCategory.AuthenticationError,
                ["InvalidToken"] = ErrorCategory.SecurityError,
                ["ConnectionNotFound"] = ErrorCategory.InvalidOperation,
                ["ExchangeError"] = ErrorCategory.InvalidOperation,
                ["Throttled"] = ErrorCategory.LimitsExceeded,
                ["AccessDenied"] = ErrorCategory.PermissionDenied,
                ["Unauthorized"] = ErrorCategory.AuthenticationError,
                ["Internal"] = ErrorCategory.NotSpecified,
                ["ConfigurationError"] = ErrorCategory.InvalidArgument,
                ["AccountDisabled"] = ErrorCategory.AuthenticationError,
                ["NotFound"] = ErrorCategory.ObjectNotFound,
                // Exchange exception classes, refined from ExchangeError (below).
                ["AlreadyExists"] = ErrorCategory.ResourceExists,
                ["Ambiguous"] = ErrorCategory.InvalidArgument,
                ["InvalidParameter"] = ErrorCategory.InvalidArgument,
                ["CommandNotFound"] = ErrorCategory.ObjectNotFound,
                ["InvalidData"] = ErrorCategory.InvalidData,
                ["TenantNotFound"] = ErrorCategory.ObjectNotFound,
                ["ServerBusy"] = ErrorCategory.ResourceBusy,
                // The module's own failures.
                ["UnknownCommandName"] = ErrorCategory.InvalidArgument,
                ["HelperNotFound"] = ErrorCategory.ResourceUnavailable,
                ["HelperExited"] = ErrorCategory.ResourceUnavailable,
                ["ProtocolViolation"] = ErrorCategory.ProtocolError,
                ["NotConnected"] = ErrorCategory.InvalidOperation,
            };

        private static readonly Dictionary<string, string> recommendedActions =
            new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
            {
                ["Cancelled"] = "Run the command again when you want it to finish.",
                ["Timeout"] = "Check the network path to the service and run the command again.",
                ["NetworkError"] = "Check the network connection, proxy and DNS, then run the command again.",
                ["TlsError"] = "Check the system clock and the certificate trust store (EXCHANGEMFA_CA_FILE in tests).",
                ["BadResponse"] = "The service answered something unexpected. Run the command again; if it persists, report it with the -Debug output.",
                ["AuthenticationFailed"] = "Check the user name, the tenant and the application id, then run Connect-ExchangeMfa again.",
                ["AuthorizationDeclined"] = "The sign-in was declined. Run Connect-ExchangeMfa -Device again and approve the code.",
                ["DeviceCodeExpired"] = "Nobody approved the code in time. Run Connect-ExchangeMfa -Device again and enter the code sooner.",
                ["MfaRequired"] = "The account needs multi-factor authentication, which a password alone cannot answer: use Connect-ExchangeMfa -Device, or the browser sign-in (Connect-ExchangeMfa without -Credential).",
                ["InvalidGrant"] = "The sign-in expired or was revoked. Run Connect-ExchangeMfa again (in the browser, or with -Device).",
                ["InvalidToken"] = "A token failed validation. With -AccessToken, get a new token for Exchange Online (it cannot be renewed); otherwise check -ExchangeEnvironmentName, -AzureADAuthorizationEndpointUri and the system clock.",
                ["ConnectionNotFound"] = "Run Get-ExchangeMfaConnection to see the open connections, or Connect-ExchangeMfa to open one.",
                ["ExchangeError"] = "Check the cmdlet parameters; the message comes from Exchange.",
                ["Throttled"] = "Exchange throttled the request. Wait and run the command again, or use a smaller -ResultSize.",
                ["AccessDenied"] = "The account lacks the Exchange role for this cmdlet. Ask an administrator to assign it.",
                ["Unauthorized"] = "Exchange refused the token. Run Connect-ExchangeMfa -Device again.",
                ["Internal"] = "This is a bug in the helper. Report it with the -Debug output.",
                ["ConfigurationError"] = "Check -Organization, -AppId and -ExchangeEnvironmentName: the tenant or application was not found in that cloud.",
                ["AccountDisabled"] = "The account is disabled, locked or its password expired. Contact your administrator.",
                ["NotFound"] = "Check the identity. Run Get-Mailbox without -Identity to list what exists.",
                ["AlreadyExists"] = "An object with that name or address exists already. Pick another one, or change the existing object with its Set- command.",
                ["Ambiguous"] = "The identity matches more than one object. Use a unique value: the email address, GUID or distinguished name.",
                ["InvalidParameter"] = "Exchange did not accept a parameter or its value. Check the parameters with Get-Help for the command.",
                ["CommandNotFound"] = "Exchange does not know this cmdlet, or the account's roles do not include it.",
                ["InvalidData"] = "Exchange rejected a value. Check the values against the message.",
                ["TenantNotFound"] = "Check -Organization or -DelegatedOrganization: Exchange does not know that tenant.",
                ["ServerBusy"] = "Exchange was busy or in maintenance. Wait a minute and run the command again.",
                ["UnknownCommandName"] = "Check the names against the catalogue (module/Data/ExchangeCommands.json), or use Invoke-ExchangeMfaCommand.",
                ["HelperNotFound"] = "Install the ExchangeMfa package built for this platform, build the helper with ./build.sh, or set EXCHANGEMFA_HELPER to its path.",
                ["HelperExited"] = "The helper stopped and its connections are gone. Run Connect-ExchangeMfa -Device again.",
                ["ProtocolViolation"] = "The module and the helper disagree on the protocol. Rebuild the helper with ./build.sh.",
                ["NotConnected"] = "Run Connect-ExchangeMfa -Device first.",
            };

        // Exchange exception class (short name) -> error name. Exchange reports
        // the class in innererror.type and x-ExceptionType; the helper passes
        // it as data.exceptionType (else it may be the serverCode).
        private static readonly Dictionary<string, string> namesByExchangeClass =
            new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
            {
                ["ManagementObjectNotFoundException"] = "NotFound",
                ["ManagementObjectAlreadyExistsException"] = "AlreadyExists",
                ["ADObjectAlreadyExistsException"] = "AlreadyExists",
                ["ProxyAddressExistsException"] = "AlreadyExists",
                ["ManagementObjectAmbiguousException"] = "Ambiguous",
                ["ParameterBindingException"] = "InvalidParameter",
                ["ParameterBindingValidationException"] = "InvalidParameter",
                ["ParameterTransformationException"] = "InvalidParameter",
                ["AmbiguousParameterSetException"] = "InvalidParameter",
                ["ValidationMetadataException"] = "InvalidParameter",
                ["TaskArgumentException"] = "InvalidParameter",
                ["CommandNotFoundException"] = "CommandNotFound",
                ["AccessDeniedException"] = "AccessDenied",
                ["CmdletAccessDeniedException"] = "AccessDenied",
                ["UnauthorizedAccessException"] = "AccessDenied",
                ["ThrottlingException"] = "Throttled",
                ["OverBudgetException"] = "Throttled",
                ["DataValidationException"] = "InvalidData",
                ["ValidationException"] = "InvalidData",
                ["TenantNotFoundException"] = "TenantNotFound",
                ["DCOverloadedException"] = "ServerBusy",
                ["ServerInMMException"] = "ServerBusy",
                ["StorageTransientException"] = "ServerBusy",
                ["ADTransientException"] = "ServerBusy",
            };

        // The helper's fields that scripts may branch on: they go into the
        // exception's Data as "ExchangeMfa.<field>".
        private static readonly string[] dataFields = { "httpStatus", "serverCode", "exceptionType", "aadsts", "retryAfter" };

        // An ErrorRecord "ExchangeMfa.<name>". data (may be null): the helper
        // error's data object, whose documented fields are kept.
        // (PowerShell does not fill in optional .NET arguments, and takes ::New for a constructor: Create, with overloads.)
        public static ErrorRecord Create(string name, string message) => Create(name, message, null, null);

        public static ErrorRecord Create(string name, string message, object target) => Create(name, message, target, null);

        public static ErrorRecord Create(string name, string message, object target, object data)
        {
            ErrorCategory category = categories.TryGetValue(name, out ErrorCategory known) ? known : ErrorCategory.NotSpecified;
            Exception exception = category switch
            {
                ErrorCategory.OperationTimeout => new TimeoutException(message),
                ErrorCategory.PermissionDenied => new UnauthorizedAccessException(message),
                ErrorCategory.InvalidArgument => new ArgumentException(message),
                ErrorCategory.OperationStopped => new OperationCanceledException(message),
                _ => new InvalidOperationException(message),
            };
            exception.Data["ExchangeMfa.Name"] = name;
            if (data != null)
            {
                foreach (string field in dataFields)
                {
                    object value = Json.Field(data, field);
                    if (value != null) exception.Data["ExchangeMfa." + field] = value;
                }
            }
            var record = new ErrorRecord(exception, "ExchangeMfa." + name, category, target);
            if (recommendedActions.TryGetValue(name, out string action))
                record.ErrorDetails = new ErrorDetails(message) { RecommendedAction = action };
            return record;
        }

        // A helper's error reply ({"code","message","data":{"name",...}}) as
        // an ErrorRecord. The target is the helper's `target` when it names
        // one, else what the caller was working on.
        public static ErrorRecord FromHelper(object helperError) => FromHelper(helperError, null);

        public static ErrorRecord FromHelper(object helperError, object target)
        {
            object data = Json.Field(helperError, "data");
            string name = Json.Text(data, "name");
            if (string.IsNullOrEmpty(name)) name = "Internal";
            if (name == "ExchangeError")
            {
                // A generic Exchange failure gets the name of its exception class.
                foreach (string field in new[] { "exceptionType", "serverCode" })
                {
                    string type = Json.Text(data, field);
                    if (string.IsNullOrEmpty(type)) continue;
                    string shortName = type.Substring(type.LastIndexOf('.') + 1);
                    if (namesByExchangeClass.TryGetValue(shortName, out string refined)) { name = refined; break; }
                }
            }
            object named = Json.Field(data, "target");
            if (named != null && !(named is string s && s.Length == 0)) target = named;
            string message = Json.Text(helperError, "message");
            if (string.IsNullOrEmpty(message)) message = $"The helper reported {name}.";
            return Create(name, message, target, data);
        }
    }
}
