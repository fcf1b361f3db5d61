// Connections as the module shows them. The helper owns the connections (and
// their tokens); the module remembers which one is the default for Exchange
// commands and which one for Security & Compliance commands, in state every
// runspace shares (SharedState).
using System;
using System.Collections;
using System.Globalization;
using System.Management.Automation;

namespace ExchangeMfa
{
    public static class Connections
    {
        public static string DefaultId
        {
            get => SharedState.Get("DefaultConnectionId") as string;
            set => SharedState.Set("DefaultConnectionId", value);
        }

        public static string DefaultComplianceId
        {
            get => SharedState.Get("DefaultComplianceConnectionId") as string;
            set => SharedState.Set("DefaultComplianceConnectionId", value);
        }

        // connection id -> its ThrottleLimit setting (Connect -ThrottleLimit).
        public static IDictionary ThrottleLimits => (IDictionary)SharedState.Get("ConnectionThrottleLimits");

        // S&C connection id -> its -Prefix ('' for none).
        public static IDictionary CompliancePrefixes => (IDictionary)SharedState.Get("CompliancePrefixes");

        // A new S&C connection becomes the default one unless it has a prefix
        // and a default exists, as for Exchange.
        public static void RegisterCompliance(string connectionId, string prefix)
        {
            CompliancePrefixes[connectionId] = prefix ?? "";
            if (string.IsNullOrEmpty(prefix) || string.IsNullOrEmpty(DefaultComplianceId)) DefaultComplianceId = connectionId;
        }

        public static bool IsDefault(string connectionId) =>
            !string.IsNullOrEmpty(connectionId) && (connectionId == DefaultId || connectionId == DefaultComplianceId);

        // A helper session's product; sessions of helpers without the field are Exchange's.
        public static string ProductOf(object session) =>
            Json.Text(session, "product") == "compliance" ? "SecurityCompliance" : "ExchangeOnline";

        // The JSON reader turns ISO 8601 strings into DateTime already; a
        // string is taken too.
        public static DateTime? ToUtc(object value)
        {
            if (value == null || (value is string text && text.Length == 0)) return null;
            if (value is DateTime time) return time.ToUniversalTime();
            return DateTime.Parse(value.ToString(), CultureInfo.InvariantCulture,
                DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);
        }

        // A helper session object -> ExchangeMfa.Connection. Only the fields
        // the protocol documents are copied, so nothing else can leak through.
        // modulePrefix: '' = the unprefixed commands; null = none (a prefix moved on).
        public static PSObject ToConnection(object session, string modulePrefix)
        {
            string id = Json.Text(session, "connectionId");
            var connection = new PSObject();
            connection.TypeNames.Insert(0, "ExchangeMfa.Connection");
            void Add(string name, object value) => connection.Properties.Add(new PSNoteProperty(name, value));
            Add("ConnectionId", id);
            Add("State", Json.Text(session, "state"));
            Add("UserPrincipalName", Json.Text(session, "userPrincipalName"));
            Add("TenantId", Json.Text(session, "tenantId"));
            Add("Organization", Json.Text(session, "organization"));
            Add("Environment", Json.Text(session, "environment"));
            Add("ConnectionUri", Json.Text(session, "connectionUri"));
            Add("AzureADAuthorizationEndpointUri", Json.Text(session, "authority"));
            Add("AppId", Json.Text(session, "appId"));
            Add("SignInMode", Json.Text(session, "signInMode"));
            Add("TokenExpiresUtc", ToUtc(Json.Field(session, "tokenExpiresUtc")));
            Add("PageSize", Json.Field(session, "pageSize"));
            Add("ThrottleLimit", Json.Field(session, "throttleLimit"));
            Add("Product", ProductOf(session));
            Add("IsDefault", IsDefault(id));
            Add("ModulePrefix", modulePrefix);
            return connection;
        }
    }
}
