// Invoke-ExchangeMfaCommand, the generic invoker, and the compatibility
// module's Install-/Uninstall-ExchangeMfaCompatibility. Compiled faces;
// the catalogue's answers and the compatibility module's text and search are
// script (module/Private), parsed on first need. Help: docs/commands/<name>.md.
using System;
using System.Collections;
using System.Collections.ObjectModel;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Text;

namespace ExchangeMfa
{
    [Cmdlet(VerbsLifecycle.Invoke, "ExchangeMfaCommand", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType("ExchangeMfa.Mailbox")]
    public sealed class InvokeExchangeMfaCommandCommand : PSCmdlet
    {
        [Parameter(Mandatory = true, Position = 0)]
        [ValidatePattern("^[A-Za-z]+-[A-Za-z0-9]+$")]
        public string Name { get; set; }

        [Parameter(Position = 1)]
        public IDictionary Parameters { get; set; }

        [Parameter]
        [ValidatePattern("^(Unlimited|[1-9][0-9]{0,9})$")]
        public string ResultSize { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string ConnectionId { get; set; }

        [Parameter]
        [ValidateRange(1, 1000)]
        public int PageSize { get; set; }

        protected override void EndProcessing()
        {
            object target = Parameters != null && Parameters.Contains("Identity") ? Parameters["Identity"] : Name;
            if (CommandCatalog.ChangesState(Name) && !ShouldProcess(LanguagePrimitives.ConvertTo<string>(target), Name)) return;
            ExchangeStream.Start(this, Name, Parameters, ResultSize, PageSize, ConnectionId, target, null, null, 0).Receive();
        }
    }

    // What both compatibility commands take: where the module goes.
    public abstract class CompatibilityCommand : PSCmdlet
    {
        [Parameter(ParameterSetName = "Scope")]
        [ValidateSet("CurrentUser", "AllUsers")]
        public string Scope { get; set; } = "CurrentUser";

        [Parameter(Mandatory = true, ParameterSetName = "Path")]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; }

        // The module folder: -Path, or PowerShell's own for -Scope.
        protected string Root() => ParameterSetName == "Path"
            ? GetUnresolvedProviderPathFromPSPath(Path)
            : (string)ModuleScope.Call("Get-UserModuleRoot", new Hashtable { ["Scope"] = Scope })[0].BaseObject;

        // The module's name, and the version scripts that ask for a minimum
        // of Microsoft's module (3.x since 2022) find. Here, not in the
        // runtime script (which reads them), since the commands need them
        // whether the runtime is loaded yet or not.
        public const string ModuleName = "ExchangeOnlineManagement";
        public const string ModuleVersion = "3.9.2";
    }

    [Cmdlet(VerbsLifecycle.Install, "ExchangeMfaCompatibility", SupportsShouldProcess = true, DefaultParameterSetName = "Scope")]
    [OutputType(typeof(FileInfo))]
    public sealed class InstallExchangeMfaCompatibilityCommand : CompatibilityCommand
    {
        protected override void EndProcessing()
        {
            string root = Root();
            Collection<PSObject> real = ModuleScope.Call("Find-RealExchangeOnlineManagement", new Hashtable { ["ExtraRoot"] = new[] { root } });
            if (real.Count > 0)
                ThrowTerminatingError(ErrorRecords.Create("RealModulePresent",
                    $"Microsoft's ExchangeOnlineManagement is installed ({real[0]}); the compatibility module is not needed and would only get in its way. Nothing was written.", real[0].BaseObject));
            string folder = System.IO.Path.Combine(root, ModuleName, ModuleVersion);
            if (!ShouldProcess(folder, "Install the ExchangeMfa compatibility module ExchangeOnlineManagement")) return;
            string exchangeMfa = System.IO.Path.Combine(MyInvocation.MyCommand.Module.ModuleBase, "ExchangeMfa.psd1");
            PSObject text = ModuleScope.Call("New-CompatibilityModuleText", new Hashtable { ["ExchangeMfaManifest"] = exchangeMfa })[0];
            Directory.CreateDirectory(folder);
            var utf8 = new UTF8Encoding(false);
            string manifest = System.IO.Path.Combine(folder, ModuleName + ".psd1");
            File.WriteAllText(manifest, Json.Text(text, "Manifest") + Environment.NewLine, utf8);
            File.WriteAllText(System.IO.Path.Combine(folder, ModuleName + ".psm1"), Json.Text(text, "RootModule") + Environment.NewLine, utf8);
            WriteObject(new FileInfo(manifest));
        }
    }

    [Cmdlet(VerbsLifecycle.Uninstall, "ExchangeMfaCompatibility", SupportsShouldProcess = true, DefaultParameterSetName = "Scope")]
    [OutputType(typeof(void))]
    public sealed class UninstallExchangeMfaCompatibilityCommand : CompatibilityCommand
    {
        protected override void EndProcessing()
        {
            string root = Root(), name = ModuleName;
            foreach (PSObject found in ModuleScope.Call("Get-ExchangeOnlineManagementManifest", new Hashtable { ["Root"] = new[] { root } }))
            {
                if (!LanguagePrimitives.IsTrue(Json.Field(found, "IsCompatibility"))) continue;
                string folder = System.IO.Path.GetDirectoryName(Json.Text(found, "Path"));
                if (!ShouldProcess(folder, "Remove the ExchangeMfa compatibility module")) continue;
                foreach (string file in new[] { name + ".psd1", name + ".psm1" })
                    File.Delete(System.IO.Path.Combine(folder, file));
                // Only folders left empty go; what someone else put there stays.
                foreach (string dir in new[] { folder, System.IO.Path.Combine(root, name) })
                    if (Directory.Exists(dir) && !Directory.EnumerateFileSystemEntries(dir).Any()) Directory.Delete(dir);
                WriteVerbose($"Removed the compatibility module from {folder}.");
            }
        }
    }
}
