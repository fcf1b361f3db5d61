// The catalogue of Exchange cmdlets as the module reads it at run time: the
// list the build writes beside the proxy modules (module/Commands/
// CommandNames.txt, "Name<TAB>Products<TAB>changesState": a few KB, where
// module/Data/ExchangeCommands.json is megabytes), read once, when first
// needed (Connect -CommandName, Invoke-ExchangeMfaCommand, a typo), never at
// import. Compiled, so that none of these needs the runtime script.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;

namespace ExchangeMfa
{
    public static class CommandCatalog
    {
        private sealed class Entry
        {
            public string Name;
            public string[] Products;
            public bool ChangesState;
        }

        private static readonly Lazy<Dictionary<string, Entry>> entries = new Lazy<Dictionary<string, Entry>>(Read);

        // Verbs of cmdlets that only read, for cmdlets the catalogue lacks.
        private static readonly string[] readOnlyVerbs = { "Get", "Search", "Test", "Export" };

        public static string ListPath => Path.Combine(ModuleSetup.CommandsFolder, "CommandNames.txt");

        private static Dictionary<string, Entry> Read()
        {
            var read = new Dictionary<string, Entry>(StringComparer.OrdinalIgnoreCase);
            if (!File.Exists(ListPath)) return read;
            foreach (string line in File.ReadAllLines(ListPath))
            {
                string[] fields = line.Split('\t');
                read[fields[0]] = new Entry
                {
                    Name = fields[0],
                    Products = fields.Length > 1 ? fields[1].Split(',') : Array.Empty<string>(),
                    ChangesState = fields.Length > 2 && fields[2] == "true",
                };
            }
            return read;
        }

        // Every catalogue name, in the list's order (sorted by the build).
        public static IReadOnlyCollection<string> Names => entries.Value.Keys;

        // Whether a cmdlet changes state: the catalogue's answer, else (a cmdlet
        // it lacks) every verb but the read-only ones.
        public static bool ChangesState(string name)
        {
            if (entries.Value.TryGetValue(name, out Entry entry)) return entry.ChangesState;
            string verb = name.Split(new[] { '-' }, 2)[0];
            return !readOnlyVerbs.Contains(verb, StringComparer.OrdinalIgnoreCase);
        }

        // -CommandName values -> catalogue names (canonical spelling, each
        // once, in the order given); without names, those of the product. A
        // name the catalogue lacks is a terminating error of cmdlet: a typo
        // should not pass silently.
        public static string[] Resolve(string[] names, string product, PSCmdlet cmdlet)
        {
            Dictionary<string, Entry> all = entries.Value;
            if (all.Count == 0)
                cmdlet.ThrowTerminatingError(ErrorRecords.Create("UnknownCommandName",
                    $"The proxy commands are not built ({ListPath} is missing): run ./build.sh.", ListPath));
            if (names == null || names.Length == 0)
                return all.Values.Where(entry => string.IsNullOrEmpty(product) || entry.Products.Contains(product)).Select(entry => entry.Name).ToArray();
            string[] unknown = names.Where(name => !all.ContainsKey(name)).ToArray();
            if (unknown.Length > 0)
                cmdlet.ThrowTerminatingError(ErrorRecords.Create("UnknownCommandName",
                    $"The catalogue has no command named {string.Join(", ", unknown)}. Use Invoke-ExchangeMfaCommand for cmdlets outside the catalogue.", unknown));
            return names.Select(name => all[name].Name).Distinct(StringComparer.OrdinalIgnoreCase).ToArray();
        }

        // Up to 3 catalogue names close to a Verb-Noun name that does not
        // exist: a noun within a small edit distance of a catalogue noun, or
        // sharing its first 6 letters with one (Get-MailboxWidget ->
        // Get-MailboxFolder...); a different verb counts one more. Names far
        // from every catalogue noun give nothing. Each distinct noun is
        // compared once, and only when the lengths allow it.
        public static string[] Suggest(string name)
        {
            int dash = name.IndexOf('-');
            if (dash <= 0 || dash == name.Length - 1 || name.IndexOf('-', dash + 1) >= 0) return Array.Empty<string>();
            string verb = name.Substring(0, dash), noun = name.Substring(dash + 1);
            if (!verb.All(c => c < 128 && char.IsLetter(c)) || !noun.All(c => c < 128 && char.IsLetterOrDigit(c))) return Array.Empty<string>();
            int limit = Math.Max(1, noun.Length / 4);
            string start = noun.Length >= 6 ? noun.Substring(0, 6) : null;
            var nounScores = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
            var scored = new List<(string Name, int Score)>();
            foreach (string candidate in Names)
            {
                int split = candidate.IndexOf('-');
                string candidateVerb = candidate.Substring(0, split), candidateNoun = candidate.Substring(split + 1);
                if (!nounScores.TryGetValue(candidateNoun, out int score))
                {
                    score = 99;
                    if (Math.Abs(noun.Length - candidateNoun.Length) <= limit)
                    {
                        int distance = EditDistance(noun, candidateNoun);
                        if (distance <= limit) score = distance;
                    }
                    if (score == 99 && start != null && candidateNoun.StartsWith(start, StringComparison.OrdinalIgnoreCase)) score = 10;
                    nounScores[candidateNoun] = score;
                }
                if (score == 99) continue;
                if (!candidateVerb.Equals(verb, StringComparison.OrdinalIgnoreCase)) score++;
                scored.Add((candidate, score));
            }
            return scored.OrderBy(item => item.Score).ThenBy(item => item.Name, StringComparer.InvariantCultureIgnoreCase)
                .Take(3).Select(item => item.Name).ToArray();
        }

        // Levenshtein distance, case-insensitive.
        private static int EditDistance(string left, string right)
        {
            left = left.ToUpperInvariant();
            right = right.ToUpperInvariant();
            int[] previous = Enumerable.Range(0, right.Length + 1).ToArray();
            for (int i = 1; i <= left.Length; i++)
            {
                int[] current = new int[right.Length + 1];
                current[0] = i;
                for (int j = 1; j <= right.Length; j++)
                {
                    int cost = left[i - 1] == right[j - 1] ? 0 : 1;
                    current[j] = Math.Min(Math.Min(previous[j] + 1, current[j - 1] + 1), previous[j - 1] + cost);
                }
                previous = current;
            }
            return previous[right.Length];
        }

        // The typo handler's answer (ModuleSetup): for an Exchange-like name,
        // a command that fails with the closest catalogue names and the
        // generic invoker; null for any other name.
        public static ScriptBlock NotFoundCommand(string name)
        {
            string[] suggestions = Suggest(name);
            if (suggestions.Length == 0) return null;
            string message = $"The term '{name}' is not an ExchangeMfa command. Did you mean {string.Join(", ", suggestions)}? " +
                $"For an Exchange cmdlet the catalogue lacks, run: Invoke-ExchangeMfaCommand -Name {name} -Parameters @{{...}}";
            return ScriptBlock.Create($"throw [ExchangeMfa.ErrorRecords]::Create('CommandNotFound', {Quoted(message)}, {Quoted(name)})");
        }

        private static string Quoted(string text) => "'" + text.Replace("'", "''") + "'";
    }
}
