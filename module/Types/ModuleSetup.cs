// What ExchangeMfa.psm1 does at import besides defining its functions, in
// one compiled call: in a fresh PowerShell the first use of each script
// construct (a -split, a -notcontains, an array +, a loop over files, a
// .NET method) costs milliseconds, which made up a third of Import-Module
// (issue 12; docs/decisions.md, "Import and Connect time").
using System;
using System.IO;
using System.Linq;
using System.Management.Automation;

namespace ExchangeMfa
{
    public static class ModuleSetup
    {
        // The import's work (ExchangeMfa.psm1), given the module's scope and
        // the generated root module's folder (module/Bundle). Returns why the
        // module cannot be imported, or null.
        public static string Initialize(SessionState scope, string bundleFolder)
        {
            string moduleFolder = Path.GetDirectoryName(Path.GetFullPath(bundleFolder));
            string changed = FindChangedSources(moduleFolder);
            if (changed != null)
                return $"ExchangeMfa: {changed} has changed since module/Bundle was generated (or it is missing). Run ./build.sh in the repository.";
            scope.PSVariable.Set("RuntimePath", Path.Combine(moduleFolder, "Bundle", "ExchangeMfa.Runtime.ps1"));
            scope.PSVariable.Set("RuntimeLoaded", false);
            SharedState.Attach(scope);
            // A runspace without the module gets it from here when a proxy
            // command autoloads (module/Commands): process-wide, not
            // inherited by child processes.
            AppDomain.CurrentDomain.SetData("ExchangeMfa.Manifest", Path.Combine(Path.GetDirectoryName(moduleFolder), "ExchangeMfa.psd1"));
            // The proxy commands autoload from PSModulePath: this process
            // only, taken back out when the module is removed.
            string commands = Path.Combine(moduleFolder, "Commands");
            scope.PSVariable.Set("CommandsFolder", commands);
            scope.PSVariable.Set("AddedCommandsFolder", AddToModulePath(commands));
            return null;
        }

        // In a clone, the source (module/ExchangeMfa.psm1, module/Private,
        // module/Public) that is newer than the generated scripts: a file, or
        // a folder, whose time changes when a file is added or removed. The
        // runtime script is compared, which build.sh writes first. Null when
        // all are current; an installed package has the generated scripts only.
        public static string FindChangedSources(string moduleFolder)
        {
            DateTime generated = File.GetLastWriteTimeUtc(Path.Combine(moduleFolder, "Bundle", "ExchangeMfa.Runtime.ps1"));   // 1601 when missing
            string rootSource = Path.Combine(moduleFolder, "ExchangeMfa.psm1");
            if (File.Exists(rootSource) && File.GetLastWriteTimeUtc(rootSource) > generated) return rootSource;
            foreach (string name in new[] { "Private", "Public" })
            {
                string folder = Path.Combine(moduleFolder, name);
                if (!Directory.Exists(folder)) continue;
                DateTime newest = Directory.GetLastWriteTimeUtc(folder);
                foreach (string file in Directory.EnumerateFiles(folder, "*.ps1"))
                {
                    DateTime time = File.GetLastWriteTimeUtc(file);
                    if (time > newest) newest = time;
                }
                if (newest > generated) return folder;
            }
            return null;
        }

        // Adds folder to this process's PSModulePath, where PowerShell finds
        // modules to autoload; true when it was added (not there before).
        public static bool AddToModulePath(string folder)
        {
            if (!Directory.Exists(folder)) return false;
            string[] paths = ModulePath();
            if (paths.Contains(folder, PathComparer)) return false;
            SetModulePath(paths.Append(folder));
            return true;
        }

        public static void RemoveFromModulePath(string folder) =>
            SetModulePath(ModulePath().Where(path => !PathComparer.Equals(path, folder)));

        private static readonly StringComparer PathComparer =
            OperatingSystem.IsWindows() ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal;

        private static string[] ModulePath() =>
            (Environment.GetEnvironmentVariable("PSModulePath") ?? "")
                .Split(new[] { Path.PathSeparator }, StringSplitOptions.RemoveEmptyEntries);

        private static void SetModulePath(System.Collections.Generic.IEnumerable<string> paths) =>
            Environment.SetEnvironmentVariable("PSModulePath", string.Join(Path.PathSeparator.ToString(), paths));
    }
}
