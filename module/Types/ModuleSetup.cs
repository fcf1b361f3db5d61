// What ExchangeMfa.psm1 does at import besides defining its functions, in
// compiled code: in a fresh PowerShell the first use of each script
// construct (a -split, a -notcontains, an array +, a loop over files) costs
// 5-25 ms, which made up a third of Import-Module (issue 12, "Connect";
// docs/decisions.md, "Import and Connect time").
using System;
using System.IO;
using System.Linq;

namespace ExchangeMfa
{
    public static class ModuleSetup
    {
        // In a clone, module/Private or module/Public when one of them (a file
        // in it, or the folder itself, whose time changes when a file is added
        // or removed) is newer than the generated bundles (build.sh writes the
        // runtime's first), or they are missing; null otherwise. An installed
        // package has the bundles only.
        public static string FindChangedSources(string moduleFolder)
        {
            DateTime bundleTime = File.GetLastWriteTimeUtc(Path.Combine(moduleFolder, "Bundle", "ExchangeMfa.ps1"));   // 1601 when missing
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
                if (newest > bundleTime) return folder;
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
