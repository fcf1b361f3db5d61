// The one implementation behind every proxy command of module/Commands (their
// faces: generated param blocks, help and -WhatIf/-Confirm are PowerShell's
// own): bound parameters -> an invoke, with the requests a proxy taking
// pipeline input keeps in flight. Compiled, so that the first Exchange
// command of a session compiles no script beyond its own param block
// (docs/decisions.md, "The work in compiled code, the faces in script").
using System;
using System.Collections;
using System.Collections.Generic;
using System.Collections.Specialized;
using System.IO;
using System.Management.Automation;
using System.Text.Json;

namespace ExchangeMfa
{
    public static class ExchangeProxy
    {
        // Requests a proxy keeps in flight for pipeline input when neither
        // -ThrottleLimit nor the connection says (docs/exchange.md, Pipelines).
        public const int DefaultThrottleLimit = 8;

        // Parameters of a proxy that are PowerShell's or the module's, never
        // Exchange's (the proxy generator leaves them out of the catalogue's).
        private static readonly HashSet<string> localParameters = NewLocalParameters();

        public static IReadOnlyCollection<string> LocalParameters => localParameters;

        private static HashSet<string> NewLocalParameters()
        {
            var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "ConnectionId", "ThrottleLimit" };
            names.UnionWith(PSCmdlet.CommonParameters);
            names.UnionWith(PSCmdlet.OptionalCommonParameters);
            return names;
        }

        private static readonly string[] targetFields = { "Identity", "Name", "DisplayName", "Mailbox", "MessageTraceId" };

        // A proxy's process block. facts: its group's table (name -> Products,
        // ChangesState, OutputType, ResultSize, ResultSizeDefault,
        // ConfirmImpact, Client). inFlight: the queue of streams a proxy taking
        // pipeline input keeps in flight, oldest first (null for the others);
        // its end block drains it (Complete).
        public static void Invoke(PSCmdlet cmdlet, string name, IDictionary bound, string invocationName, IDictionary facts, Queue<object> inFlight)
        {
            var command = (IDictionary)facts[name];
            var parameters = new OrderedDictionary(StringComparer.OrdinalIgnoreCase);
            foreach (DictionaryEntry entry in bound)
            {
                if (!localParameters.Contains((string)entry.Key)) parameters[entry.Key] = entry.Value;
            }
            // ResultSize goes to the helper too (it stops after that many
            // objects); a default the user did not type is not bound.
            string resultSize = null;
            if (command["ResultSize"] is string sizeName && sizeName.Length > 0)
            {
                if (parameters.Contains(sizeName))
                {
                    resultSize = LanguagePrimitives.ConvertTo<string>(parameters[sizeName]);
                    parameters.Remove(sizeName);
                }
                else resultSize = command["ResultSizeDefault"] as string;
            }
            object target = name;
            foreach (string field in targetFields)
            {
                if (parameters.Contains(field)) { target = parameters[field]; break; }
            }
            bool changesState = LanguagePrimitives.IsTrue(command["ChangesState"]);
            if (changesState && !cmdlet.ShouldProcess(LanguagePrimitives.ConvertTo<string>(target), name)) return;

            string[] products = LanguagePrimitives.ConvertTo<string[]>(command["Products"]);
            string connectionId = bound.Contains("ConnectionId") ? (string)bound["ConnectionId"] : ResolveConnectionId(name, invocationName, products);
            if (string.IsNullOrEmpty(connectionId))
            {
                var ways = new List<string>();
                if (Has(products, "ExchangeOnline")) ways.Add("Connect-ExchangeOnline or Connect-ExchangeMfa");
                if (Has(products, "SecurityCompliance")) ways.Add("Connect-IPPSSession");
                cmdlet.ThrowTerminatingError(ErrorRecords.Create("NotConnected", $"{name} needs a connection: run {string.Join(", or ", ways)} first.", name));
            }

            string cmdletName = name;
            IDictionary sent = parameters;
            string[] select = null;
            if ((command["Client"] as string) == "exo")
            {
                // Get-EXO*: the underlying cmdlet with $select (ExoCmdlets.cs).
                ExoInvocation exo;
                try { exo = ExoCmdlets.Resolve(name, parameters); }
                catch (ArgumentException e)
                {
                    cmdlet.ThrowTerminatingError(ErrorRecords.Create("InvalidParameter", e.Message, name));
                    throw;   // not reached
                }
                cmdletName = exo.CmdletName;
                sent = exo.Parameters;
                select = exo.Select;
            }
            int limit = 1;
            if (inFlight != null && cmdlet.MyInvocation.ExpectingInput)
                limit = ThrottleLimit(bound, command, connectionId, cmdlet.GetVariableValue("ConfirmPreference", "High"));
            string typeName = command["OutputType"] as string;
            if (limit <= 1 && (inFlight == null || inFlight.Count == 0))
            {
                ExchangeStream.Start(cmdlet, cmdletName, sent, resultSize, 0, connectionId, target, typeName, select, 0).Receive();
                return;
            }
            // The window: drain strictly oldest first (results, warnings and
            // errors come out in input order; later requests' lines wait in
            // their queues, kept small by acks), then send this one.
            bool done = false;
            try
            {
                while (inFlight.Count >= limit) ((ExchangeStream)inFlight.Dequeue()).Receive();
                ExchangeStream started = ExchangeStream.Start(cmdlet, cmdletName, sent, resultSize, 0, connectionId, target, typeName, select, limit > 1 ? limit : 0);
                if (limit <= 1) started.Receive();
                else inFlight.Enqueue(started);
                done = true;
            }
            finally
            {
                // A terminating error, Ctrl+C, Select-Object -First: nothing
                // more will be read, so the helper stops every request still
                // in flight.
                if (!done) StopWindow(inFlight);
            }
        }

        // A windowed proxy's end block: the requests still in flight, oldest first.
        public static void Complete(Queue<object> inFlight)
        {
            bool drained = false;
            try
            {
                while (inFlight.Count > 0) ((ExchangeStream)inFlight.Dequeue()).Receive();
                drained = true;
            }
            finally
            {
                if (!drained) StopWindow(inFlight);
            }
        }

        // Cancels every stream of a window that will not be read (a proxy's
        // clean block, however the pipeline ended).
        public static void StopWindow(Queue<object> inFlight)
        {
            while (inFlight.Count > 0) ((ExchangeStream)inFlight.Dequeue()).Stop();
        }

        // Requests in flight for one pipeline input: -ThrottleLimit, else the
        // connection's setting, else 8; 1 while -Confirm may ask the user, so
        // that answers and results do not interleave.
        public static int ThrottleLimit(IDictionary bound, IDictionary command, string connectionId, object confirmPreference)
        {
            int limit = DefaultThrottleLimit;
            if (bound.Contains("ThrottleLimit")) limit = LanguagePrimitives.ConvertTo<int>(bound["ThrottleLimit"]);
            else if (connectionId != null && Connections.ThrottleLimits.Contains(connectionId)) limit = LanguagePrimitives.ConvertTo<int>(Connections.ThrottleLimits[connectionId]);
            if (limit > 1 && LanguagePrimitives.IsTrue(command["ChangesState"]) &&
                ConfirmMayAsk(bound, command["ConfirmImpact"] as string, confirmPreference))
                limit = 1;
            return limit;
        }

        // Whether ShouldProcess may ask the user: -Confirm, or an impact at or
        // above $ConfirmPreference (-WhatIf asks nothing and sends nothing).
        private static bool ConfirmMayAsk(IDictionary bound, string confirmImpact, object confirmPreference)
        {
            if (bound.Contains("Confirm")) return LanguagePrimitives.IsTrue(bound["Confirm"]);
            if (bound.Contains("WhatIf") && LanguagePrimitives.IsTrue(bound["WhatIf"])) return false;
            var preference = LanguagePrimitives.ConvertTo<ConfirmImpact>(confirmPreference);
            var impact = LanguagePrimitives.ConvertTo<ConfirmImpact>(string.IsNullOrEmpty(confirmImpact) ? "Medium" : confirmImpact);
            return preference != ConfirmImpact.None && impact >= preference;
        }

        // The connection of a call without -ConnectionId: called as
        // Verb-<Prefix>Noun (an alias made by Connect -Prefix) -> that prefix's
        // connection, else the default connection of one of its products
        // (Exchange Online's first).
        public static string ResolveConnectionId(string name, string invocationName, string[] products)
        {
            if (!string.IsNullOrEmpty(invocationName) && !string.Equals(invocationName, name, StringComparison.OrdinalIgnoreCase) &&
                ModuleScope.Variable("ProxyPrefixes") is IDictionary prefixes && prefixes.Count > 0)
            {
                string called = invocationName.Substring(invocationName.LastIndexOf('\\') + 1);
                int dash = name.IndexOf('-');
                string verb = name.Substring(0, dash), noun = name.Substring(dash + 1);
                if (called.StartsWith(verb + "-", StringComparison.OrdinalIgnoreCase) &&
                    called.EndsWith(noun, StringComparison.OrdinalIgnoreCase) && called.Length > verb.Length + 1 + noun.Length)
                {
                    string prefix = called.Substring(verb.Length + 1, called.Length - verb.Length - 1 - noun.Length);
                    object entry = prefixes[prefix];
                    if (entry != null) return Json.Text(entry, "ConnectionId");
                }
            }
            if (Has(products, "ExchangeOnline") && !string.IsNullOrEmpty(Connections.DefaultId)) return Connections.DefaultId;
            if (Has(products, "SecurityCompliance") && !string.IsNullOrEmpty(Connections.DefaultComplianceId)) return Connections.DefaultComplianceId;
            return null;
        }

        private static bool Has(string[] names, string name) =>
            names != null && Array.Exists(names, item => string.Equals(item, name, StringComparison.OrdinalIgnoreCase));
    }

    // A Get-EXO* call as its underlying cmdlet: the parameters to send and
    // the property names for $select (null: every property).
    public sealed class ExoInvocation
    {
        public string CmdletName { get; internal set; }
        public OrderedDictionary Parameters { get; internal set; }
        public string[] Select { get; internal set; }
    }

    // The Get-EXO* cmdlets of Microsoft's module (catalogue "client": "exo")
    // run as their underlying InvokeCommand cmdlet (Get-EXOMailbox ->
    // Get-Mailbox) with $select naming the properties Microsoft documents for
    // them: module/Data/PropertySets.json, docs/catalogue.md.
    public static class ExoCmdlets
    {
        // Parameters that only steer Microsoft's client module: never sent.
        private static readonly HashSet<string> clientParameters =
            new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "Properties", "PropertySets", "Async" };

        private static Dictionary<string, JsonElement> byCmdlet;

        // Get-EXO* name -> its entry, read once.
        private static Dictionary<string, JsonElement> PropertySets
        {
            get
            {
                if (byCmdlet != null) return byCmdlet;
                string path = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(typeof(ExoCmdlets).Assembly.Location), "..", "Data", "PropertySets.json"));
                JsonElement root = JsonDocument.Parse(File.ReadAllBytes(path)).RootElement;
                if (!root.TryGetProperty("version", out JsonElement version) || version.ValueKind != JsonValueKind.Number || version.GetInt32() != 1)
                    throw new InvalidDataException($"Unsupported property sets version in {path} (1 expected).");
                var table = new Dictionary<string, JsonElement>(StringComparer.OrdinalIgnoreCase);
                foreach (JsonProperty cmdlet in root.GetProperty("cmdlets").EnumerateObject()) table[cmdlet.Name] = cmdlet.Value;
                return byCmdlet = table;
            }
        }

        // Null for a cmdlet that is not Get-EXO*. Microsoft's rules: without
        // -PropertySets the Minimum set; -PropertySets unions the named sets
        // (All: every property); -Properties adds names. A bad request is an
        // ArgumentException.
        public static ExoInvocation Resolve(string cmdletName, IDictionary parameters)
        {
            if (!PropertySets.TryGetValue(cmdletName, out JsonElement entry)) return null;

            var sent = new OrderedDictionary(StringComparer.OrdinalIgnoreCase);
            var properties = new List<string>();
            var setNames = new List<string>();
            if (parameters != null)
            {
                foreach (DictionaryEntry parameter in parameters)
                {
                    string key = (string)parameter.Key;
                    if (string.Equals(key, "Properties", StringComparison.OrdinalIgnoreCase)) properties.AddRange(Strings(parameter.Value));
                    else if (string.Equals(key, "PropertySets", StringComparison.OrdinalIgnoreCase)) setNames.AddRange(Strings(parameter.Value));
                    else if (!clientParameters.Contains(key)) sent[key] = parameter.Value;
                }
            }

            // -UserPrincipalName and the like name the object: the underlying
            // cmdlet takes that as -Identity.
            string[] identityParameters = Names(entry, "identityParameters");
            var named = new List<string>();
            foreach (string name in identityParameters) { if (sent.Contains(name)) named.Add(name); }
            if (named.Count > 1 || (named.Count == 1 && sent.Contains("Identity")))
                throw new ArgumentException($"{cmdletName}: give only one of -Identity, -{string.Join(", -", identityParameters)}.");
            if (named.Count == 1)
            {
                object value = sent[named[0]];
                sent.Remove(named[0]);
                sent.Insert(0, "Identity", LanguagePrimitives.ConvertTo<string>(value));
            }

            string[] select = null;
            if (Names(entry, "minimum").Length > 0)
            {
                string[] known = Names(entry, "propertySetValues");
                var sets = new List<string>();
                foreach (string name in setNames)
                {
                    string canonical = Array.Find(known, value => string.Equals(value, name, StringComparison.OrdinalIgnoreCase));
                    if (canonical == null)
                        throw new ArgumentException($"{cmdletName}: unknown property set '{name}'. Valid: {string.Join(", ", known)}.");
                    sets.Add(canonical);
                }
                if (!sets.Exists(set => string.Equals(set, "All", StringComparison.OrdinalIgnoreCase)))
                {
                    if (sets.Count == 0) sets.Add("Minimum");
                    var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
                    var chosen = new List<string>();
                    JsonElement setTable = entry.GetProperty("sets");
                    foreach (string set in sets)
                    {
                        if (!setTable.TryGetProperty(set, out JsonElement members)) continue;
                        foreach (JsonElement member in members.EnumerateArray()) { if (seen.Add(member.GetString())) chosen.Add(member.GetString()); }
                    }
                    foreach (string name in properties) { if (!string.IsNullOrEmpty(name) && seen.Add(name)) chosen.Add(name); }
                    select = chosen.ToArray();
                }
            }
            return new ExoInvocation { CmdletName = entry.GetProperty("underlying").GetString(), Parameters = sent, Select = select };
        }

        private static string[] Names(JsonElement entry, string field)
        {
            if (!entry.TryGetProperty(field, out JsonElement list) || list.ValueKind != JsonValueKind.Array) return Array.Empty<string>();
            var names = new List<string>();
            foreach (JsonElement item in list.EnumerateArray()) names.Add(item.GetString());
            return names.ToArray();
        }

        // A parameter value as PowerShell would enumerate it into strings.
        private static IEnumerable<string> Strings(object value)
        {
            value = Json.Unwrap(value);
            if (value is IEnumerable items && !(value is string))
            {
                foreach (object item in items) yield return LanguagePrimitives.ConvertTo<string>(item);
            }
            else if (value != null) yield return LanguagePrimitives.ConvertTo<string>(value);
        }
    }
}
