// The helper process's two background duties (issue 12), in compiled code
// instead of PowerShell's event subscriptions: the first Register-ObjectEvent
// in a process cost 256-477 ms of Connect, and finding the PowerShell.Exiting
// subscriber again another 70-100 ms.
using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;

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

        // Call before process.Start(); then process.BeginErrorReadLine().
        public HelperGuard(Process process)
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

        // Stop-HelperProcess ended the helper itself: nothing left to guard.
        public void Dispose()
        {
            if (disposed) return;
            disposed = true;
            AppDomain.CurrentDomain.ProcessExit -= onExit;
            process.ErrorDataReceived -= OnErrorData;
        }
    }
}
