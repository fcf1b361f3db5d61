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
        // its folder (module). Returns why the module cannot be imported, or null.
        public static string Initialize(SessionState scope, string folder)
        {
            string moduleFolder = Path.GetFullPath(folder);
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

        // In a clone, module/Private when it is newer than the runtime script
        // generated from it: a file, or the folder, whose time changes when a
        // file is added or removed. Null when current; an installed package
        // has the generated script only.
        public static string FindChangedSources(string moduleFolder)
        {
            string folder = Path.Combine(moduleFolder, "Private");
            if (!Directory.Exists(folder)) return null;
            DateTime generated = File.GetLastWriteTimeUtc(Path.Combine(moduleFolder, "Bundle", "ExchangeMfa.Runtime.ps1"));   // 1601 when missing
            DateTime newest = Directory.GetLastWriteTimeUtc(folder);
            foreach (string file in Directory.EnumerateFiles(folder, "*.ps1"))
            {
                DateTime time = File.GetLastWriteTimeUtc(file);
                if (time > newest) newest = time;
            }
            return newest > generated ? folder : null;
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
