// Connections as the module shows them. The helper owns the connections (and
// their tokens); the module remembers which one is the default for Exchange
// commands and which one for Security & Compliance commands, in state every
// runspace shares (SharedState).
using System;
using System.Collections;
using System.Globalization;
using System.Linq;
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

        // After a disconnect: the closed connection is forgotten, and the
        // newest remaining connection of each product becomes its default
        // when it has none.
        public static void Forget(string connectionId)
        {
            CompliancePrefixes.Remove(connectionId);
            ThrottleLimits.Remove(connectionId);
            if (DefaultId == connectionId) DefaultId = null;
            if (DefaultComplianceId == connectionId) DefaultComplianceId = null;
        }

        public static void UpdateDefaults(object[] sessions)
        {
            string Newest(string product) =>
                sessions.Where(session => ProductOf(session) == product).Select(session => Json.Text(session, "connectionId")).LastOrDefault();
            if (string.IsNullOrEmpty(DefaultId)) DefaultId = Newest("ExchangeOnline");
            if (string.IsNullOrEmpty(DefaultComplianceId)) DefaultComplianceId = Newest("SecurityCompliance");
        }

        // The prefix of a connection's commands: '' for none. Prefixed Exchange
        // connections are in this runspace's table of -Prefix aliases
        // (module/Private/ProxyCommands.ps1), which exists once the runtime is
        // loaded; S&C connections keep theirs here.
        public static string PrefixOf(object session)
        {
            string id = Json.Text(session, "connectionId");
            if (ProductOf(session) == "SecurityCompliance") return CompliancePrefixes[id] as string ?? "";
            if (ModuleScope.Variable("ProxyPrefixes") is IDictionary prefixes)
                foreach (object entry in prefixes.Values)
                    if (Json.Text(entry, "ConnectionId") == id) return Json.Text(entry, "Prefix");
            return "";
        }

        // The module holding a prefix's aliases; without a prefix the commands
        // are the autoloaded ExchangeMfa.Commands.<Group> family.
        public static string ModuleNameOf(string prefix) =>
            string.IsNullOrEmpty(prefix) ? "ExchangeMfa.Commands" : "ExchangeMfa.Prefix." + prefix;

        // A helper session object -> ExchangeMfa.ConnectionInformation, the
        // fields of Microsoft's Get-ConnectionInformation (docs/module.md).
        // Id numbers connections in the order this session first saw them,
        // never reused, like Microsoft's.
        public static PSObject ToConnectionInformation(object session)
        {
            string id = Json.Text(session, "connectionId");
            IDictionary numbers = (IDictionary)SharedState.Get("ConnectionNumbers");
            int number;
            lock (numbers.SyncRoot)
            {
                if (!numbers.Contains(id)) numbers[id] = numbers.Count + 1;
                number = (int)numbers[id];
            }
            bool isEop = ProductOf(session) == "SecurityCompliance";
            string prefix = PrefixOf(session);
            DateTime? expires = ToUtc(Json.Field(session, "tokenExpiresUtc"));
            var information = new PSObject();
            information.TypeNames.Insert(0, "ExchangeMfa.ConnectionInformation");
            void Add(string name, object value) => information.Properties.Add(new PSNoteProperty(name, value));
            Add("ConnectionId", id);
            Add("State", Json.Text(session, "state"));
            Add("Id", number);
            Add("Name", (isEop ? "ExchangeOnlineProtection_" : "ExchangeOnline_") + number);
            Add("UserPrincipalName", Json.Text(session, "userPrincipalName"));
            Add("ConnectionUri", Json.Text(session, "connectionUri"));
            Add("AzureAdAuthorizationEndpointUri", Json.Text(session, "authority"));
            Add("TokenExpiryTimeUTC", expires.HasValue ? new DateTimeOffset(expires.Value) : (DateTimeOffset?)null);
            Add("CertificateAuthentication", Json.Text(session, "signInMode") == "Certificate");
            // The commands of the connection live in this module.
            Add("ModuleName", ModuleNameOf(prefix));
            Add("ModulePrefix", prefix);
            Add("Organization", Json.Text(session, "organization"));
            Add("DelegatedOrganization", Json.Text(session, "delegatedOrganization"));
            Add("AppId", Json.Text(session, "appId"));
            Add("PageSize", Json.Field(session, "pageSize"));
            Add("TenantID", Json.Text(session, "tenantId"));
            Add("TokenStatus", TokenStatus(session, expires));
            Add("ConnectionUsedForInbuiltCmdlets", IsDefault(id));
            Add("IsEopSession", isEop);
            return information;
        }

        // The helper's tokenStatus when it sends one (docs/protocol.md), else
        // derived from the state and the expiry: Active, Expired or Closed.
        private static string TokenStatus(object session, DateTime? expires)
        {
            string status = Json.Text(session, "tokenStatus");
            if (!string.IsNullOrEmpty(status)) return status;
            if (Json.Text(session, "state") == "Closed") return "Closed";
            return expires.HasValue && expires.Value <= DateTime.UtcNow ? "Expired" : "Active";
        }
    }
}
