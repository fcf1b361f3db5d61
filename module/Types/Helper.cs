// The helper as the module sees it: its process, its lifetime and the client
// side of docs/protocol.md (requests with ids, replies, acks and cancels).
// Compiled, so that a Connect runs no script for it (docs/decisions.md,
// "The work in compiled code, the faces in script"). One helper serves the
// whole PowerShell process: every runspace's instance of the module shares
// it through SharedState.
using System;
using System.Collections;
using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.Diagnostics;
using System.IO;
using System.Management.Automation;
using System.Runtime.InteropServices;
using System.Reflection;

namespace ExchangeMfa
{
    public sealed class Helper
    {
        // Seconds to wait for the helper's first answer and for simple requests.
        public static double RequestTimeoutSeconds { get; set; } = 30;

        public Process Process { get; }
        public HelperChannel Channel { get; }
        public HelperGuard Guard { get; }
        public string Path { get; }
        public string Version { get; private set; }
        public int? ExitCode { get; private set; }
        private volatile bool stopped;
        public bool Stopped => stopped;

        private Helper(HelperGuard guard, string path)
        {
            Guard = guard;
            Process = guard.Process;
            Path = path;
            // Lines go out whole under the channel's lock; its reader thread
            // sorts the helper's lines by request (HelperChannel.cs).
            Channel = new HelperChannel(Process.StandardInput.BaseStream, Process.StandardOutput.BaseStream);
        }

        // The helper of this process, or null.
        public static Helper Current => SharedState.Get("Helper") as Helper;

        // .NET's runtime identifier of this platform (linux-x64, win-x64,
        // osx-arm64, ...), from the OS and the process's architecture: an x64
        // PowerShell under emulation runs an x64 helper. Not
        // RuntimeInformation.RuntimeIdentifier, which a distribution's own
        // .NET build reports as e.g. ubuntu.24.04-x64.
        public static string Platform
        {
            get
            {
                string os = RuntimeInformation.IsOSPlatform(OSPlatform.Windows) ? "win"
                    : RuntimeInformation.IsOSPlatform(OSPlatform.OSX) ? "osx" : "linux";
                return os + "-" + RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
            }
        }

        // module/bin, where this assembly and the helpers per platform are.
        private static string BinFolder => System.IO.Path.GetDirectoryName(typeof(Helper).Assembly.Location);

        // EXCHANGEMFA_HELPER points at another build (a sanitizer build, a
        // packaged copy); otherwise the platform's helper in module/bin/<rid>/.
        public static string FindPath()
        {
            string chosen = Environment.GetEnvironmentVariable("EXCHANGEMFA_HELPER");
            if (!string.IsNullOrEmpty(chosen)) return chosen;
            string name = RuntimeInformation.IsOSPlatform(OSPlatform.Windows) ? "exchangemfa-helper.exe" : "exchangemfa-helper";
            return System.IO.Path.Combine(BinFolder, Platform, name);
        }

        // The running helper, started when needed. A helper that died is a
        // terminating HelperExited error (its connections are gone), or with
        // replaceExited (Connect) replaced silently. noStart: null instead of
        // starting one (nothing is connected). whileStarting (may be null):
        // work for this thread while a new helper process starts up.
        public static Helper Get(PSCmdlet cmdlet, bool noStart, bool replaceExited, Action whileStarting = null)
        {
            Helper helper = Current;
            if (helper != null)
            {
                if (!helper.Process.HasExited) return helper;
                int exitCode = helper.Process.ExitCode;
                Stop(helper, cmdlet);
                if (!replaceExited)
                {
                    cmdlet.ThrowTerminatingError(ErrorRecords.Create("HelperExited",
                        $"The ExchangeMfa helper exited (exit code {exitCode}); its connections are gone. Run Connect-ExchangeMfa again."));
                }
                cmdlet.WriteVerbose($"The previous helper exited (exit code {exitCode}); starting a new one.");
            }
            if (noStart) return null;
            // One helper for the process: a runspace that finds none starts
            // it while the others wait, then they all use it.
            lock (SharedState.StartLock)
            {
                return Current ?? Start(cmdlet, whileStarting);
            }
        }

        private static Helper Start(PSCmdlet cmdlet, Action whileStarting)
        {
            string path = FindPath();
            if (!File.Exists(path))
            {
                var shipped = new List<string>();
                if (Directory.Exists(BinFolder))
                {
                    foreach (string folder in Directory.GetDirectories(BinFolder))
                    {
                        if (Directory.GetFiles(folder, "exchangemfa-helper*").Length > 0) shipped.Add(System.IO.Path.GetFileName(folder));
                    }
                }
                shipped.Sort(StringComparer.Ordinal);
                string has = shipped.Count > 0 ? $"This copy of the module has helpers for: {string.Join(", ", shipped)}." : "This copy of the module has no helper.";
                cmdlet.ThrowTerminatingError(ErrorRecords.Create("HelperNotFound",
                    $"The ExchangeMfa helper for {Platform} was not found at '{path}'. {has} Build one for {Platform} from source (./build.sh in a clone of the repository), or set EXCHANGEMFA_HELPER to a helper's path.",
                    path));
            }
            MakeExecutable(path, cmdlet);

            // EXCHANGEMFA_HELPER_LAUNCHER runs the helper through another
            // program, for tests (`wine`).
            HelperGuard guard;
            try { guard = HelperGuard.Start(path, Environment.GetEnvironmentVariable("EXCHANGEMFA_HELPER_LAUNCHER")); }
            catch (Exception e)
            {
                cmdlet.ThrowTerminatingError(ErrorRecords.Create("HelperNotFound",
                    $"The ExchangeMfa helper at '{path}' could not be started: {e.GetBaseException().Message}", path));
                throw;   // not reached
            }
            var helper = new Helper(guard, path);
            SharedState.Set("Helper", helper);
            SharedState.NoteStarted(helper);
            cmdlet.WriteVerbose($"Started the ExchangeMfa helper '{path}' (process {helper.Process.Id}).");
            whileStarting?.Invoke();

            PSObject reply = helper.Invoke("initialize", new System.Collections.Specialized.OrderedDictionary
            {
                ["protocolVersion"] = 1,
                ["client"] = "ExchangeMfa/0.1.0",
            }, cmdlet);
            object error = Json.Field(reply, "error");
            object result = Json.Field(reply, "result");
            string version = Json.Text(result, "protocolVersion");
            if (error != null || version != "1")
            {
                string seen = error != null ? Json.Text(error, "message") : $"protocol version {version}";
                Stop(helper, cmdlet);
                cmdlet.ThrowTerminatingError(ErrorRecords.Create("ProtocolViolation",
                    $"The ExchangeMfa helper at '{path}' does not speak protocol version 1 ({seen}).", path));
            }
            helper.Version = Json.Text(result, "helperVersion");
            cmdlet.WriteVerbose($"ExchangeMfa helper {helper.Version} speaks protocol version 1.");
            return helper;
        }

        // A .nupkg is a zip without Unix modes (NuGet drops them when packing,
        // NuGet/Home#13121), so Install-PSResource leaves the helper without
        // its execute bit: given back where the file is readable, once.
        private static void MakeExecutable(string path, PSCmdlet cmdlet)
        {
            if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows)) return;
            // File.GetUnixFileMode is .NET 7's (PowerShell 7.4 runs on .NET 8);
            // this assembly is built for .NET 6 (docs/decisions.md).
            MethodInfo get = typeof(File).GetMethod("GetUnixFileMode", new[] { typeof(string) });
            if (get == null) return;
            MethodInfo set = typeof(File).GetMethod("SetUnixFileMode", new[] { typeof(string), get.ReturnType });
            int mode = Convert.ToInt32(get.Invoke(null, new object[] { path }));
            const int userExecute = 0x40;   // UnixFileMode: r w x for user 0x100 0x80 0x40, group 0x20 0x10 0x8, other 0x4 0x2 0x1
            if ((mode & userExecute) != 0) return;
            for (int read = 0x100; read >= 0x4; read >>= 3)
            {
                if ((mode & read) != 0) mode |= read >> 2;
            }
            try
            {
                try { set.Invoke(null, new object[] { path, Enum.ToObject(get.ReturnType, mode) }); }
                catch (TargetInvocationException e) { throw e.InnerException; }
                cmdlet.WriteVerbose($"Made the ExchangeMfa helper '{path}' executable (the package does not keep Unix file modes).");
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                cmdlet.ThrowTerminatingError(ErrorRecords.Create("HelperNotFound",
                    $"The ExchangeMfa helper at '{path}' is not executable and this account cannot change that ({e.Message}). Run once: chmod a+x '{path}'",
                    path));
            }
        }

        // Ends a helper: a shutdown request, stdin closed, a short wait, a kill
        // as a last resort. Never throws; safe when nothing runs, and from
        // several runspaces at once (one of them does the work). Only that
        // helper (one that died), never a newer one another runspace started.
        // cmdlet (may be null) gets its last diagnostics as verbose lines.
        public static void Stop(Helper helper, PSCmdlet cmdlet)
        {
            if (helper == null) return;
            if (SharedState.Replace("Helper", helper, null))
            {
                SharedState.Set("DefaultConnectionId", null);
                SharedState.Set("DefaultComplianceConnectionId", null);
                Connections.ThrottleLimits.Clear();
                // The connections are gone, and so are the commands bound to them.
                SharedState.ForgetConnectionCommands();
            }
            if (!helper.Channel.BeginStop()) return;
            helper.stopped = true;
            Process process = helper.Process;
            try
            {
                if (!process.HasExited)
                {
                    helper.Channel.WriteLine($"{{\"jsonrpc\":\"2.0\",\"id\":{helper.Channel.Open()},\"method\":\"shutdown\"}}");
                    helper.Channel.CloseInput();
                    // The reader thread drops what the helper still writes,
                    // such as the rest of a cancelled page: a helper blocked on
                    // a full pipe cannot exit.
                    if (!process.WaitForExit(5000))
                    {
                        cmdlet?.WriteVerbose("The ExchangeMfa helper did not exit in time; killing it.");
                        process.Kill(true);
                        process.WaitForExit(2000);
                    }
                }
            }
            catch (Exception e) when (e is IOException || e is InvalidOperationException || e is ObjectDisposedException
                                      || e is System.ComponentModel.Win32Exception)
            {
                cmdlet?.WriteDebug($"Stopping the ExchangeMfa helper: {e.Message}");
                try { if (!process.HasExited) process.Kill(true); }
                catch (Exception) { }   // gone meanwhile
            }
            helper.Channel.WaitForEnd(2000);
            if (cmdlet != null) helper.ReadStderr(cmdlet);
            try { if (process.HasExited) helper.ExitCode = process.ExitCode; }
            catch (InvalidOperationException) { }
            helper.Guard.Dispose();
            process.Dispose();
        }

        // Moves the helper's diagnostics (plain lines, never secrets) to the
        // verbose stream of whoever waits on the helper. The guard keeps the
        // last lines for the error when the helper dies.
        public void ReadStderr(PSCmdlet cmdlet)
        {
            foreach (string text in Guard.TakeStderr()) cmdlet.WriteVerbose("exchangemfa-helper: " + text);
        }

        // The helper died (EOF, broken pipe): forget it and its connections and
        // stop the command with a terminating error that says what it said.
        public void StopWithError(PSCmdlet cmdlet)
        {
            try
            {
                if (!stopped && Process.WaitForExit(2000))
                {
                    ExitCode = Process.ExitCode;
                    Process.WaitForExit();   // and its stderr is read to the end
                }
            }
            catch (Exception e) when (e is InvalidOperationException || e is ObjectDisposedException)
            {
                // Another runspace that saw the same death stopped (and
                // disposed of) it first; it kept the exit code.
                cmdlet.WriteDebug($"ExchangeMfa: the helper's exit code: {e.Message}");
            }
            ReadStderr(cmdlet);
            Stop(this, cmdlet);
            string code = ExitCode.HasValue ? ExitCode.Value.ToString() : "unknown";
            string[] tail = Guard.Tail();
            string said = tail.Length > 0 ? " It said: " + string.Join(" ", tail) : "";
            cmdlet.ThrowTerminatingError(ErrorRecords.Create("HelperExited",
                $"The ExchangeMfa helper exited unexpectedly (exit code {code}); its connections are gone. Run Connect-ExchangeMfa again.{said}"));
        }

        // Sends a request and opens its queue; returns its id. The caller ends
        // it with Complete (in a finally block). The line is made by
        // RequestLine: secrets (SecureString, char[]) at any depth are plain
        // text only in its cleared buffer. A request the helper could not
        // take as it is (a NUL character, nesting deeper than it reads) is a
        // terminating InvalidParams error, with nothing sent.
        public long Send(string method, IDictionary parameters, PSCmdlet cmdlet)
        {
            long id = Channel.Open();
            cmdlet.WriteDebug($"ExchangeMfa: request {id} {method}");
            try
            {
                Write(Channel, id, method, parameters, cmdlet);
            }
            catch (Exception e) when (e is IOException || e is ObjectDisposedException)
            {
                // The helper is gone (a broken pipe, its stdin closed).
                Channel.Close(id);
                StopWithError(cmdlet);
            }
            catch (PipelineStoppedException)
            {
                Channel.Close(id);
                throw;
            }
            return id;
        }

        // Writes request id to channel, or stops the command with
        // InvalidParams when RequestLine refuses it (nothing was written).
        public static void Write(HelperChannel channel, long id, string method, IDictionary parameters, PSCmdlet cmdlet)
        {
            try
            {
                RequestLine.Write(channel, id, method, parameters);
            }
            catch (RequestLineException e)
            {
                channel.Close(id);
                cmdlet.ThrowTerminatingError(ErrorRecords.Create("InvalidParams",
                    $"The parameters of {method} {e.Message}, which the ExchangeMfa helper cannot take as they are; nothing was sent."));
            }
        }

        // ack and cancel: fire and forget. A dead helper is noticed by the next
        // read, so a failed write is not an error here.
        public void Notify(string line)
        {
            try { Channel.WriteLine(line); }
            catch (Exception e) when (e is IOException || e is ObjectDisposedException || e is InvalidOperationException) { }
        }

        // Forgets a request; cancel also tells the helper to stop it (the
        // command was stopped, failed, or timed out before the reply).
        public void Complete(long id, bool cancel)
        {
            Channel.Close(id);
            if (cancel && !stopped) Notify($"{{\"jsonrpc\":\"2.0\",\"method\":\"cancel\",\"params\":{{\"id\":{id}}}}}");
        }

        // The next message (reply or notification) of request id, waiting in
        // short slices so that Ctrl+C and a stopped pipeline are honoured at
        // once. Terminating errors: the helper died, broke the protocol, or
        // sent nothing for the request within timeoutSeconds. sink (may be
        // null): the request's object lines go straight to its pipeline
        // (ObjectStream.cs) and never come back here.
        public PSObject Receive(long id, double timeoutSeconds, PSCmdlet cmdlet, ObjectSink sink)
        {
            DateTime deadline = DateTime.UtcNow.AddSeconds(timeoutSeconds);
            while (true)
            {
                string line;
                try
                {
                    while ((line = Channel.Take(id, sink, 100)) == null)
                    {
                        if (cmdlet.Stopping) throw new PipelineStoppedException();
                        ReadStderr(cmdlet);
                        if (DateTime.UtcNow > deadline)
                        {
                            cmdlet.ThrowTerminatingError(ErrorRecords.Create("Timeout",
                                $"The ExchangeMfa helper sent nothing for request {id} in {timeoutSeconds} seconds.", id));
                        }
                    }
                }
                catch (EndOfStreamException) { line = null; }
                if (line == null) StopWithError(cmdlet);

                // One parse per line (ObjectStream.cs); what it leaves to
                // PowerShell (a huge number, a "/Date()/" string) and text that
                // is not a JSON object go to ConvertFrom-Json.
                PSObject message = JsonLine.Read(line) ?? ConvertFromJson(line, cmdlet);
                if (message == null || !(message.BaseObject is PSCustomObject))
                {
                    string shown = line.Length > 200 ? line.Substring(0, 200) + "..." : line;
                    cmdlet.ThrowTerminatingError(ErrorRecords.Create("ProtocolViolation",
                        $"The ExchangeMfa helper wrote a line that is not a JSON-RPC message: {shown}"));
                }
                object method = Json.Field(message, "method");
                object key = method != null ? Json.Field(Json.Field(message, "params"), "requestId") : Json.Field(message, "id");
                if (key != null && LanguagePrimitives.Equals(key, id)) return message;
                if (key == null)
                {
                    // An error with id null answers a line the helper could not
                    // read: ours, so the two sides disagree about the protocol.
                    object error = Json.Field(message, "error");
                    string text = error != null ? Json.Text(error, "message") : line;
                    cmdlet.ThrowTerminatingError(ErrorRecords.Create("ProtocolViolation",
                        $"The ExchangeMfa helper could not read a request: {text}"));
                }
                // A line the reader could not place by its layout, sent to
                // every waiter: another request's.
                cmdlet.WriteDebug($"ExchangeMfa: skipped a '{method}' line of request {key}");
            }
        }

        private static PSObject ConvertFromJson(string line, PSCmdlet cmdlet)
        {
            try
            {
                Collection<PSObject> made = cmdlet.InvokeCommand.InvokeScript(
                    "ConvertFrom-Json -InputObject $args[0] -ErrorAction Stop", false, System.Management.Automation.Runspaces.PipelineResultTypes.None, null, line);
                return made.Count == 1 ? made[0] : null;
            }
            catch (RuntimeException) { return null; }
        }

        // One request, one reply (notifications ignored): the caller looks at
        // .result or .error.
        public PSObject Invoke(string method, IDictionary parameters, PSCmdlet cmdlet) =>
            Invoke(method, parameters, cmdlet, RequestTimeoutSeconds);

        public PSObject Invoke(string method, IDictionary parameters, PSCmdlet cmdlet, double timeoutSeconds)
        {
            long id = Send(method, parameters, cmdlet);
            bool answered = false;
            try
            {
                while (true)
                {
                    PSObject message = Receive(id, timeoutSeconds, cmdlet, null);
                    if (Json.Field(message, "method") == null)
                    {
                        answered = true;
                        return message;
                    }
                }
            }
            finally
            {
                Complete(id, !answered);
                ReadStderr(cmdlet);
            }
        }

        // The helper's `list`: its connections in the order opened.
        public object[] List(PSCmdlet cmdlet)
        {
            PSObject reply = Invoke("list", null, cmdlet);
            object error = Json.Field(reply, "error");
            if (error != null) cmdlet.ThrowTerminatingError(ErrorRecords.FromHelper(error));
            object connections = Json.Field(Json.Field(reply, "result"), "connections");
            if (connections == null) return Array.Empty<object>();
            if (connections is object[] many) return many;
            if (connections is IEnumerable items && !(connections is string))
            {
                var list = new List<object>();
                foreach (object item in items) list.Add(item);
                return list.ToArray();
            }
            return new[] { connections };
        }
    }
}
