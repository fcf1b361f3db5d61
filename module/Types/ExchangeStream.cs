// One Exchange cmdlet run through the helper's `invoke`, its result objects
// written to the calling command's pipeline as they arrive, and the
// parameters encoded the way the Exchange admin REST endpoint takes them.
// Compiled, like the sign-in: every Exchange command's first call used to
// compile these functions' script first (docs/decisions.md, "The work in
// compiled code, the faces in script").
using System;
using System.Collections;
using System.Collections.Generic;
using System.Collections.Specialized;
using System.Globalization;
using System.Management.Automation;
using System.Security;

namespace ExchangeMfa
{
    public sealed class ExchangeStream
    {
        // Seconds without any message for a running invoke before giving up.
        // Exchange itself stops a call after 15 minutes.
        public static double IdleTimeoutSeconds { get; set; } = 960;

        // Errors after which further input cannot succeed either: terminating.
        private static readonly HashSet<string> terminatingErrors = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
        {
            "ConnectionNotFound", "InvalidGrant", "Unauthorized", "Internal",
            "ParseError", "InvalidRequest", "MethodNotFound", "OutOfMemory",
        };

        private readonly Helper helper;
        private readonly long id;
        private readonly PSCmdlet cmdlet;
        private readonly string cmdletName;
        private readonly string typeName;
        private readonly object targetObject;
        private readonly string activity;

        private ExchangeStream(Helper helper, long id, PSCmdlet cmdlet, string cmdletName, string typeName, object targetObject, string activity)
        {
            this.helper = helper;
            this.id = id;
            this.cmdlet = cmdlet;
            this.cmdletName = cmdletName;
            this.typeName = typeName;
            this.targetObject = targetObject;
            this.activity = activity;
        }

        // Sends an invoke and returns its stream, for Receive (which ends it)
        // or Stop. Several may be in flight (docs/exchange.md, Pipelines):
        // their lines wait in the helper channel's queues until their turn.
        // resultSize: a number, Unlimited, or null; pageSize, throttleLimit:
        // 0 for the connection's; select (may be null): property names for
        // $select (Get-EXO* cmdlets); typeName (may be null): the objects'
        // type, else the cmdlet's noun (Get-Mailbox -> ExchangeMfa.Mailbox),
        // so that the format file shows them as Exchange does.
        public static ExchangeStream Start(PSCmdlet cmdlet, string cmdletName, IDictionary parameters, string resultSize,
            int pageSize, string connectionId, object targetObject, string typeName, string[] select, int throttleLimit)
        {
            // -ConnectionId when given (the helper checks it), else the default connection.
            Helper helper = Helper.Get(cmdlet, true, false);
            if (string.IsNullOrEmpty(connectionId)) connectionId = Connections.DefaultId;
            if (helper == null || string.IsNullOrEmpty(connectionId))
            {
                cmdlet.ThrowTerminatingError(ErrorRecords.Create("NotConnected",
                    "There is no connection to Exchange Online. Run Connect-ExchangeMfa -Device first."));
            }

            OrderedDictionary encoded = ExchangeParameters.Encode(parameters);
            var request = new OrderedDictionary
            {
                ["connectionId"] = connectionId,
                ["cmdlet"] = cmdletName,
                ["parameters"] = encoded,
            };
            if (!string.IsNullOrEmpty(resultSize))
            {
                object size = string.Equals(resultSize, "Unlimited", StringComparison.OrdinalIgnoreCase)
                    ? (object)"Unlimited" : long.Parse(resultSize, CultureInfo.InvariantCulture);
                // The helper stops after resultSize objects; Exchange itself
                // must be told too, or it stops at its default of 1000.
                request["resultSize"] = size;
                if (!encoded.Contains("ResultSize")) encoded["ResultSize"] = size;
            }
            if (pageSize > 0) request["pageSize"] = pageSize;
            if (select != null && select.Length > 0) request["select"] = select;
            // The requests the caller keeps in flight: the helper's window for
            // the connection may grow to this many (docs/protocol.md, invoke).
            if (throttleLimit > 0) request["throttleLimit"] = throttleLimit;
            if (string.IsNullOrEmpty(typeName)) typeName = "ExchangeMfa." + cmdletName.Substring(cmdletName.IndexOf('-') + 1);

            long id = helper.Send("invoke", request, cmdlet);
            return new ExchangeStream(helper, id, cmdlet, cmdletName, typeName, targetObject, $"{cmdletName} ({connectionId})");
        }

        // A stream that will not be read: the helper stops it at once.
        public void Stop() => helper.Complete(id, true);

        // Writes the stream's objects, warnings and error to its command's
        // pipeline until the reply, and ends the request.
        public void Receive()
        {
            // The objects go to the pipeline straight from the helper's bytes;
            // what comes here is a page, a warning, the reply, or an object
            // that reader leaves to PowerShell's (written the same way).
            var sink = new ObjectSink(cmdlet, id, typeName);
            int progressId = (int)(id % int.MaxValue);
            bool answered = false;
            bool progressShown = false;
            try
            {
                while (true)
                {
                    PSObject message = helper.Receive(id, IdleTimeoutSeconds, cmdlet, sink);
                    object notification = Json.Field(message, "params");
                    switch (Json.Field(message, "method") as string)
                    {
                        case "object":
                            object value = Json.Field(notification, "value");
                            if (value == null) break;
                            PSObject written = PSObject.AsPSObject(value);
                            string types = Json.Field(notification, "types") as string;
                            if (types != null) TypedValues.Apply(written, types);
                            written.TypeNames.Insert(0, typeName);
                            cmdlet.WriteObject(written);
                            break;
                        case "page":
                            // The page's objects went down the pipeline: the
                            // helper may fetch the page after next.
                            helper.Notify($"{{\"jsonrpc\":\"2.0\",\"method\":\"ack\",\"params\":{{\"id\":{id},\"page\":{Json.Text(notification, "page")}}}}}");
                            if (progressShown || LanguagePrimitives.IsTrue(Json.Field(notification, "more")))
                            {
                                progressShown = true;
                                cmdlet.WriteProgress(new ProgressRecord(progressId, activity,
                                    $"{Json.Text(notification, "objects")} objects, {Json.Text(notification, "page")} pages"));
                            }
                            break;
                        case "warning":
                            cmdlet.WriteWarning(Json.Text(notification, "message"));
                            break;
                        case null:
                            answered = true;
                            object error = Json.Field(message, "error");
                            if (error != null)
                            {
                                ErrorRecord record = ErrorRecords.FromHelper(error, targetObject);
                                if (terminatingErrors.Contains(Json.Text(Json.Field(error, "data"), "name"))) cmdlet.ThrowTerminatingError(record);
                                cmdlet.WriteError(record);
                            }
                            else
                            {
                                object result = Json.Field(message, "result");
                                cmdlet.WriteVerbose($"{cmdletName}: {Json.Text(result, "objects")} objects in {Json.Text(result, "pages")} pages.");
                            }
                            return;
                    }
                }
            }
            finally
            {
                // Runs when the pipeline is stopped too (Ctrl+C, Select-Object
                // -First): the helper stops paging at once.
                helper.Complete(id, !answered);
                if (progressShown)
                    cmdlet.WriteProgress(new ProgressRecord(progressId, activity, "done") { RecordType = ProgressRecordType.Completed });
                helper.ReadStderr(cmdlet);
            }
        }
    }

    // PowerShell parameter values as the Exchange admin REST endpoint takes
    // them (../shared/reference/exchange-online.md, section 3): switches are
    // booleans, hashtables Exchange.GenericHashTable, DateTime UTC with seven
    // fractional digits, byte arrays Exchange.ByteArrayType. A SecureString
    // is marked for the helper, which encrypts it with Exchange's public key;
    // it stays a SecureString until RequestLine writes its plain text into
    // the request line (docs/exchange.md says why).
    public static class ExchangeParameters
    {
        private const string UtcFormat = "yyyy-MM-ddTHH:mm:ss.fffffffZ";

        // A table of cmdlet parameters -> the `parameters` object of invoke.
        public static OrderedDictionary Encode(IDictionary parameters)
        {
            var encoded = new OrderedDictionary(StringComparer.OrdinalIgnoreCase);
            if (parameters == null) return encoded;
            foreach (DictionaryEntry entry in parameters)
            {
                string name = LanguagePrimitives.ConvertTo<string>(entry.Key);
                object value = EncodeValue(entry.Value);
                encoded[name] = value;
                if (value is object[] items && items.Length > 0 && Array.TrueForAll(items, item => item is IDictionary))
                    encoded[name + "@odata.type"] = "#Collection(Exchange.GenericHashTable)";
            }
            return encoded;
        }

        public static object EncodeValue(object value)
        {
            if (value == null) return null;
            value = Json.Unwrap(value);
            switch (value)
            {
                case SwitchParameter flag: return flag.IsPresent;
                case SecureString _: return new OrderedDictionary { ["@exchangemfa.secureString"] = value };
                case string _: case bool _: case int _: case long _: case double _: case decimal _: return value;
                case DateTime time: return time.ToUniversalTime().ToString(UtcFormat, CultureInfo.InvariantCulture);
                case DateTimeOffset offset: return offset.UtcDateTime.ToString(UtcFormat, CultureInfo.InvariantCulture);
                case byte[] bytes:
                    return new OrderedDictionary { ["@odata.type"] = "#Exchange.ByteArrayType", ["Data"] = Convert.ToBase64String(bytes) };
                case IDictionary table:
                    var encoded = new OrderedDictionary(StringComparer.OrdinalIgnoreCase) { ["@odata.type"] = "#Exchange.GenericHashTable" };
                    foreach (DictionaryEntry entry in table) encoded[LanguagePrimitives.ConvertTo<string>(entry.Key)] = EncodeValue(entry.Value);
                    return encoded;
                case IEnumerable items:
                    var list = new List<object>();
                    foreach (object item in items) list.Add(EncodeValue(item));
                    return list.ToArray();
                case PSObject custom:
                    // An object from an earlier Exchange command stands for its identity.
                    foreach (string name in new[] { "Identity", "Guid", "Name" })
                    {
                        object identity = custom.Properties[name]?.Value;
                        if (identity != null) return LanguagePrimitives.ConvertTo<string>(identity);
                    }
                    break;
                case Enum _: case Guid _: return value.ToString();
                case ValueType _: return value;
            }
            return LanguagePrimitives.ConvertTo<string>(value);
        }
    }
}
