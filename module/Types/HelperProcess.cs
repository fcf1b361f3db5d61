// The helper process's start and its two background duties (issue 12), in
// compiled code: the first Register-ObjectEvent in a process cost 256-477 ms
// of Connect, finding the PowerShell.Exiting subscriber again another
// 70-100 ms, and setting up the process from script tens more.
using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Text;

namespace ExchangeMfa
{
    public sealed class HelperGuard : IDisposable
    {
        private readonly Process process;
        private readonly ConcurrentQueue<string> stderr = new ConcurrentQueue<string>();
        // The last stderr lines, for the error when the helper dies (a loader
        // that cannot find a library says so there), whoever took them.
        private readonly Queue<string> tail = new Queue<string>();
        private const int TailLines = 5;
        private readonly EventHandler onExit;
        private bool disposed;

        // Starts the helper at path with its three pipes, or throws (the
        // file cannot be run). launcher (may be null) runs it through
        // another program, for tests: `wine` starts the Windows helper from
        // Linux, with the helper's path as its only argument. The helper
        // takes no arguments in protocol version 1; ArgumentList (never a
        // joined string) is where they will go. Secrets never travel in argv.
        public static HelperGuard Start(string path, string launcher)
        {
            var utf8 = new UTF8Encoding(false);
            var startInfo = new ProcessStartInfo(string.IsNullOrEmpty(launcher) ? path : launcher)
            {
                UseShellExecute = false,
                CreateNoWindow = true,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                StandardOutputEncoding = utf8,
                StandardErrorEncoding = utf8,
            };
            if (!string.IsNullOrEmpty(launcher)) startInfo.ArgumentList.Add(path);
            var guard = new HelperGuard(new Process { StartInfo = startInfo });
            try { guard.Process.Start(); }
            catch
            {
                guard.Dispose();
                guard.Process.Dispose();
                throw;
            }
            guard.Process.BeginErrorReadLine();
            return guard;
        }

        public Process Process => process;

        private HelperGuard(Process process)
        {
            this.process = process;
            // .NET reads stderr on a thread-pool thread; the lines wait here
            // (plain diagnostics, never secrets) until a command takes them.
            process.ErrorDataReceived += OnErrorData;
            // When PowerShell exits, the helper is asked to exit too (stdin
            // closed), and killed if it has not within 2 s.
            onExit = (sender, args) => Stop(2000);
            AppDomain.CurrentDomain.ProcessExit += onExit;
        }

        private void OnErrorData(object sender, DataReceivedEventArgs e)
        {
            if (e.Data == null) return;
            stderr.Enqueue(e.Data);
            lock (tail)
            {
                tail.Enqueue(e.Data);
                if (tail.Count > TailLines) tail.Dequeue();
            }
        }

        public string[] Tail()
        {
            lock (tail) return tail.ToArray();
        }

        // The stderr lines received since the last call, oldest first.
        public string[] TakeStderr()
        {
            if (stderr.IsEmpty) return Array.Empty<string>();
            var lines = new List<string>();
            while (stderr.TryDequeue(out string line)) lines.Add(line);
            return lines.ToArray();
        }

        private void Stop(int waitMs)
        {
            try
            {
                if (process.HasExited) return;
                process.StandardInput.Close();
                if (!process.WaitForExit(waitMs)) process.Kill(true);
            }
            catch (Exception e) when (e is InvalidOperationException || e is System.IO.IOException
                                      || e is System.ComponentModel.Win32Exception)
            {
                // Already gone, or never started.
            }
        }

        // Helper.Stop ended the helper itself: nothing left to guard.
        public void Dispose()
        {
            if (disposed) return;
            disposed = true;
            AppDomain.CurrentDomain.ProcessExit -= onExit;
            process.ErrorDataReceived -= OnErrorData;
        }
    }
}
