// The commands that list and close connections: Get-ExchangeMfaConnection,
// Disconnect-ExchangeMfa and Microsoft's names, Get-ConnectionInformation
// and Disconnect-ExchangeOnline. Compiled like Connect (ConnectCommands.cs);
// their help is docs/commands/<name>.md.
using System;
using System.Collections;
using System.Collections.Generic;
using System.Collections.Specialized;
using System.Linq;
using System.Management.Automation;

namespace ExchangeMfa
{
    [Cmdlet(VerbsCommon.Get, "ExchangeMfaConnection")]
    [OutputType("ExchangeMfa.Connection")]
    public sealed class GetExchangeMfaConnectionCommand : PSCmdlet
    {
        [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string[] ConnectionId { get; set; }

        protected override void ProcessRecord()
        {
            object[] sessions = Helper.Get(this, true, false)?.List(this) ?? Array.Empty<object>();
            if (ConnectionId == null)
            {
                foreach (object session in sessions) WriteObject(Connections.ToConnection(session, Connections.PrefixOf(session)));
                return;
            }
            foreach (string wanted in ConnectionId)
            {
                object[] found = sessions.Where(session => string.Equals(Json.Text(session, "connectionId"), wanted, StringComparison.OrdinalIgnoreCase)).ToArray();
                if (found.Length == 0) WriteError(ConnectionNotFound(wanted));
                foreach (object session in found) WriteObject(Connections.ToConnection(session, Connections.PrefixOf(session)));
            }
        }

        internal static ErrorRecord ConnectionNotFound(string id) =>
            ErrorRecords.Create("ConnectionNotFound", $"There is no open connection with id '{id}'.", id);
    }

    [Cmdlet(VerbsCommunications.Disconnect, "ExchangeMfa", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(void))]
    public sealed class DisconnectExchangeMfaCommand : PSCmdlet
    {
        [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string[] ConnectionId { get; set; }

        [Parameter]
        public SwitchParameter ForgetCache { get; set; }

        protected override void ProcessRecord() => Close(this, ConnectionId, ForgetCache, true);

        protected override void EndProcessing() => Finish(this);

        // Closes the connections with these ids (null: all), each confirmed
        // first when ask is set. Disconnect-ExchangeOnline calls it too.
        internal static void Close(PSCmdlet cmdlet, string[] ids, bool forgetCache, bool ask)
        {
            Helper helper = Helper.Get(cmdlet, true, false);
            if (helper == null)
            {
                foreach (string wanted in ids ?? Array.Empty<string>())
                    cmdlet.WriteError(GetExchangeMfaConnectionCommand.ConnectionNotFound(wanted));
                return;
            }
            ids ??= helper.List(cmdlet).Select(session => Json.Text(session, "connectionId")).ToArray();
            foreach (string id in ids)
            {
                if (ask && !cmdlet.ShouldProcess(id, "Disconnect from Exchange Online")) continue;
                var parameters = new OrderedDictionary { ["connectionId"] = id };
                if (forgetCache) parameters["forgetCache"] = true;
                PSObject reply = helper.Invoke("disconnect", parameters, cmdlet);
                object error = Json.Field(reply, "error");
                if (error != null)
                {
                    cmdlet.WriteError(ErrorRecords.FromHelper(error, id));
                    continue;
                }
                cmdlet.WriteVerbose($"Disconnected {id}.");
                // Its -Prefix aliases: script, there only once the runtime is loaded.
                if (ModuleScope.RuntimeLoaded)
                    ModuleScope.Call("Remove-ExchangeProxyModule", new Hashtable { ["ConnectionId"] = id });
                Connections.Forget(id);
            }
        }

        // After the closing: the helper ends with the last connection; else
        // each product without a default gets its newest connection.
        internal static void Finish(PSCmdlet cmdlet)
        {
            Helper helper = Helper.Current;
            if (helper == null || helper.Process.HasExited) return;
            object[] left = helper.List(cmdlet);
            if (left.Length == 0)
            {
                cmdlet.WriteVerbose("No connection is left; stopping the ExchangeMfa helper.");
                Helper.Stop(helper, cmdlet);
            }
            else
            {
                Connections.UpdateDefaults(left);
            }
        }
    }

    [Cmdlet(VerbsCommon.Get, "ConnectionInformation", DefaultParameterSetName = "Default")]
    [OutputType("ExchangeMfa.ConnectionInformation")]
    public sealed class GetConnectionInformationCommand : PSCmdlet
    {
        [Parameter(Mandatory = true, ParameterSetName = "ConnectionId")]
        [ValidateNotNullOrEmpty]
        public string[] ConnectionId { get; set; }

        [Parameter(Mandatory = true, ParameterSetName = "ModulePrefix")]
        [ValidateNotNullOrEmpty]
        public string[] ModulePrefix { get; set; }

        protected override void EndProcessing()
        {
            foreach (PSObject information in Find(this, ParameterSetName, ConnectionId, ModulePrefix)) WriteObject(information);
        }

        // The open connections, those with the given ids or prefixes when one of those sets is used.
        internal static IEnumerable<PSObject> Find(PSCmdlet cmdlet, string set, string[] ids, string[] prefixes)
        {
            Helper helper = Helper.Get(cmdlet, true, false);
            if (helper == null) yield break;
            foreach (object session in helper.List(cmdlet))
            {
                PSObject information = Connections.ToConnectionInformation(session);
                bool wanted = set switch
                {
                    "ConnectionId" => ids.Contains(Json.Text(information, "ConnectionId"), StringComparer.OrdinalIgnoreCase),
                    "ModulePrefix" => HasPrefix(information, prefixes),
                    _ => true,
                };
                if (wanted) yield return information;
            }
        }

        // Whether a connection's commands have one of these prefixes (none never matches).
        internal static bool HasPrefix(PSObject information, params string[] prefixes)
        {
            string prefix = Json.Text(information, "ModulePrefix");
            return prefix.Length > 0 && prefixes.Contains(prefix, StringComparer.OrdinalIgnoreCase);
        }
    }

    [Cmdlet(VerbsCommunications.Disconnect, "ExchangeOnline", DefaultParameterSetName = "DefaultParameterSet",
        SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(void))]
    public sealed class DisconnectExchangeOnlineCommand : PSCmdlet
    {
        [Parameter(Mandatory = true, ParameterSetName = "ConnectionId", ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string[] ConnectionId { get; set; }

        [Parameter(Mandatory = true, ParameterSetName = "ModulePrefix")]
        [ValidateNotNullOrEmpty]
        public string[] ModulePrefix { get; set; }

        private readonly List<string> ids = new List<string>();

        protected override void ProcessRecord()
        {
            if (ParameterSetName == "ModulePrefix")
            {
                PSObject[] connections = GetConnectionInformationCommand.Find(this, "Default", null, null).ToArray();
                foreach (string prefix in ModulePrefix)
                {
                    string[] matched = connections.Where(c => GetConnectionInformationCommand.HasPrefix(c, prefix))
                        .Select(c => Json.Text(c, "ConnectionId")).ToArray();
                    if (matched.Length == 0)
                        WriteError(ErrorRecords.Create("ConnectionNotFound", $"There is no open connection with the prefix '{prefix}'.", prefix));
                    ids.AddRange(matched);
                }
            }
            else if (ConnectionId != null) ids.AddRange(ConnectionId);
        }

        // The connections close together, so that the end (the new defaults,
        // stopping the helper) comes once. Without ids: every connection.
        protected override void EndProcessing()
        {
            string[] confirmed = null;
            if (ParameterSetName == "DefaultParameterSet")
            {
                if (!ShouldProcess("every connection", "Disconnect")) return;
            }
            else
            {
                confirmed = ids.Where(id => ShouldProcess(id, "Disconnect")).ToArray();
                if (confirmed.Length == 0) return;
            }
            DisconnectExchangeMfaCommand.Close(this, confirmed, false, false);
            DisconnectExchangeMfaCommand.Finish(this);
        }
    }
}
