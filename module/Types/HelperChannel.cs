// The helper's pipes and the module's state, shared by every runspace of the
// process (issue 12, "Parallel runspaces"): ForEach-Object -Parallel, thread
// jobs and runspaces each get their own instance of the module, and all of
// them talk to one helper and see one set of connections.
using System;
using System.Collections;
using System.Collections.Concurrent;
using System.IO;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Runtime.CompilerServices;
using System.Text;
using System.Threading;

namespace ExchangeMfa
{
    // One helper's stdin and stdout. Any thread writes whole lines (under a
    // lock); one reader thread reads stdout and routes each line, as the
    // UTF-8 bytes the helper wrote, by its request id to that request's
    // queue; the thread running a command takes its own request's lines
    // (Take) and turns them into objects itself, so WriteObject stays on the
    // pipeline's thread while the next lines are read on the reader's. An
    // object line goes from those bytes straight to a PSObject (ObjectSink);
    // only the other lines become strings, for Helper.Receive.
    public sealed class HelperChannel
    {
        private readonly Stream input;
        private readonly object writeLock = new object();
        private readonly ConcurrentDictionary<long, BlockingCollection<byte[]>> open =
            new ConcurrentDictionary<long, BlockingCollection<byte[]>>();
        private readonly Thread reader;
        private long lastId;
        private int ended;      // 1 once stdout ended: set with a full fence (Open reads it after adding)
        private int stopping;

        public HelperChannel(Stream input, Stream output)
        {
            this.input = input;
            reader = new Thread(() => ReadAll(output)) { IsBackground = true, Name = "ExchangeMfa helper reader" };
            reader.Start();
        }

        // A new request id with its queue, registered before the request is
        // written so no line of its can be missed.
        public long Open()
        {
            long id = Interlocked.Increment(ref lastId);
            var queue = new BlockingCollection<byte[]>(new ConcurrentQueue<byte[]>());
            open[id] = queue;
            // The reader may have ended (and completed every queue) meanwhile.
            if (Volatile.Read(ref ended) == 1) queue.CompleteAdding();
            return id;
        }

        // Forgets a request: its later lines are dropped.
        public void Close(long id) => open.TryRemove(id, out _);

        // The next line of request id that the sink (may be null) did not
        // take. Waits at most waitMs in all; null when no such line came in
        // time (the caller checks its deadline, stderr and Ctrl+C, then calls
        // again). The helper's end throws EndOfStreamException, in every
        // thread waiting, once the lines read before it are taken.
        public string Take(long id, ObjectSink sink, int waitMs)
        {
            if (!open.TryGetValue(id, out BlockingCollection<byte[]> queue))
                throw new InvalidOperationException($"ExchangeMfa request {id} is not open.");
            int start = Environment.TickCount;
            while (true)
            {
                int left = Math.Max(0, waitMs - unchecked(Environment.TickCount - start));
                if (!queue.TryTake(out byte[] line, left))
                {
                    if (queue.IsCompleted) throw new EndOfStreamException("the helper's output ended");
                    return null;
                }
                if (sink == null || !sink.TryWrite(line)) return Encoding.UTF8.GetString(line);
                if (left == 0) return null;
            }
        }

        // Writes one line (no newline in it) to the helper's stdin. Requests
        // are written by RequestLine; this is for the protocol's fixed lines.
        public void WriteLine(string line) => WriteWholeLine(Encoding.UTF8.GetBytes(line + "\n"));

        // Writes one line of UTF-8 that ends in its newline, at once.
        internal void WriteWholeLine(ReadOnlySpan<byte> line)
        {
            lock (writeLock)
            {
                input.Write(line);
                input.Flush();
            }
        }

        // Closes the helper's stdin (it then exits); later writes fail.
        public void CloseInput()
        {
            lock (writeLock)
            {
                try { input.Close(); }
                catch (IOException) { }   // the helper is already gone
            }
        }

        // True for the first caller only: one runspace ends the helper.
        public bool BeginStop() => Interlocked.Exchange(ref stopping, 1) == 0;

        // Waits until the reader has seen the end of the helper's output.
        public bool WaitForEnd(int waitMs) => reader.Join(waitMs);

        private void ReadAll(Stream output)
        {
            var chunk = new byte[65536];
            var partial = new MemoryStream();   // a line longer than what one read brought
            try
            {
                int read;
                while ((read = output.Read(chunk, 0, chunk.Length)) > 0)
                {
                    int from = 0;
                    int newline;
                    while ((newline = Array.IndexOf(chunk, (byte)'\n', from, read - from)) >= 0)
                    {
                        byte[] line;
                        if (partial.Length == 0) line = LineOf(chunk, from, newline - from);
                        else
                        {
                            partial.Write(chunk, from, newline - from);
                            line = LineOf(partial.GetBuffer(), 0, (int)partial.Length);
                            partial.SetLength(0);
                        }
                        Route(line);
                        from = newline + 1;
                    }
                    partial.Write(chunk, from, read - from);
                }
            }
            // The pipe broke or closed; anything else must not take PowerShell
            // down from a background thread either. Either way the waiters
            // learn the helper is gone.
            catch (Exception) { }
            finally
            {
                Interlocked.Exchange(ref ended, 1);
                foreach (BlockingCollection<byte[]> queue in open.Values) queue.CompleteAdding();
            }
        }

        // A line's bytes without the newline (and a CR before it).
        private static byte[] LineOf(byte[] bytes, int from, int count)
        {
            if (count > 0 && bytes[from + count - 1] == '\r') count--;
            var line = new byte[count];
            Buffer.BlockCopy(bytes, from, line, 0, count);
            return line;
        }

        private void Route(byte[] line)
        {
            long id = RequestIdOf(line);
            if (id > 0)
            {
                // None open: a request nobody waits for any more; dropped.
                if (open.TryGetValue(id, out BlockingCollection<byte[]> queue)) queue.Add(line);
                return;
            }
            // No request of ours (an error with id null, a line that is not
            // the protocol's): every waiter gets it and reports it.
            foreach (BlockingCollection<byte[]> queue in open.Values) queue.Add(line);
        }

        private static readonly byte[] ReplyPrefix = Encoding.UTF8.GetBytes("{\"jsonrpc\":\"2.0\",\"id\":");
        private static readonly byte[] NotificationPrefix = Encoding.UTF8.GetBytes("{\"jsonrpc\":\"2.0\",\"method\":\"");
        private static readonly byte[] RequestIdKey = Encoding.UTF8.GetBytes("\",\"params\":{\"requestId\":");

        // The request a line belongs to, from the fixed layouts the helper
        // writes (docs/protocol.md): a reply's "id", a notification's
        // "requestId". 0 when the line has neither; the thread that takes
        // the line parses it fully.
        internal static long RequestIdOf(byte[] line)
        {
            var text = new ReadOnlySpan<byte>(line);
            if (text.StartsWith(ReplyPrefix)) return NumberAt(text, ReplyPrefix.Length);
            if (!text.StartsWith(NotificationPrefix)) return 0;
            int end = text.Slice(NotificationPrefix.Length).IndexOf((byte)'"');
            if (end < 0) return 0;
            var rest = text.Slice(NotificationPrefix.Length + end);
            return rest.StartsWith(RequestIdKey) ? NumberAt(rest, RequestIdKey.Length) : 0;
        }

        private static long NumberAt(ReadOnlySpan<byte> text, int at)
        {
            long value = 0;
            int i = at;
            for (; i < text.Length && i - at < 18 && text[i] >= '0' && text[i] <= '9'; i++)
                value = value * 10 + (text[i] - '0');
            return i > at && i < text.Length && (text[i] == ',' || text[i] == '}') ? value : 0;
        }
    }

    // The module's state that must be the same in every runspace: the helper,
    // which connections are the defaults, the connections' settings. And each
    // runspace's own instance of the module: what its import did and the
    // runtime script it loaded.
    public static class SharedState
    {
        private static readonly ConcurrentDictionary<string, object> values =
            new ConcurrentDictionary<string, object>(StringComparer.OrdinalIgnoreCase)
            {
                // connection id -> its -Prefix, Get-ConnectionInformation's Id, its ThrottleLimit.
                ["CompliancePrefixes"] = NewTable(),
                ["ConnectionNumbers"] = NewTable(),
                ["ConnectionThrottleLimits"] = NewTable(),
            };

        // Held while a helper is started: two runspaces must not start two.
        public static readonly object StartLock = new object();

        // A runspace's instance of the module (ModuleSetup): the helper it
        // started, if any (only that instance's removal ends it), the runtime
        // script's scope once loaded (ModuleScope), and what the import
        // changed that its removal takes back.
        internal sealed class Instance
        {
            public Helper Started;
            public SessionState Runtime;
            public bool AddedCommandsFolder;
            public EventHandler<CommandLookupEventArgs> PreviousCommandNotFound;
            public EventHandler<CommandLookupEventArgs> CommandNotFound;
            public bool ViewsLoaded;
        }
        private static readonly ConditionalWeakTable<Runspace, Instance> instances = new ConditionalWeakTable<Runspace, Instance>();

        internal static Instance ThisInstance
        {
            get
            {
                Runspace runspace = Runspace.DefaultRunspace;
                return runspace != null && instances.TryGetValue(runspace, out Instance instance) ? instance : null;
            }
        }

        internal static Instance Register()
        {
            var instance = new Instance();
            if (Runspace.DefaultRunspace != null) instances.AddOrUpdate(Runspace.DefaultRunspace, instance);
            return instance;
        }

        internal static void Unregister()
        {
            if (Runspace.DefaultRunspace != null) instances.Remove(Runspace.DefaultRunspace);
        }

        internal static void NoteStarted(Helper helper)
        {
            Instance instance = ThisInstance;
            if (instance != null) instance.Started = helper;
        }

        // True when this runspace's instance started the helper still in use.
        public static bool StartedCurrentHelper()
        {
            Instance instance = ThisInstance;
            return instance?.Started != null && ReferenceEquals(instance.Started, Get("Helper"));
        }

        // The helper is gone: this runspace's commands bound to its
        // connections (Connect -Prefix aliases) go with it. Script, since the
        // aliases are this instance's modules; a rare path.
        internal static void ForgetConnectionCommands()
        {
            if (ModuleScope.RuntimeLoaded) ModuleScope.Call("Remove-ExchangeProxyModule", new Hashtable { ["All"] = true });
        }

        internal static object Get(string name) => values.TryGetValue(name, out object value) ? value : null;

        internal static void Set(string name, object value) => values[name] = Json.Unwrap(value);

        // Sets name to value only while it is still expected (by reference):
        // of two runspaces ending the same helper, one wins.
        public static bool Replace(string name, object expected, object value) =>
            values.TryUpdate(name, Json.Unwrap(value), Json.Unwrap(expected));

        // An empty table, safe for any thread, with PowerShell's
        // case-insensitive keys.
        private static Hashtable NewTable() => Hashtable.Synchronized(new Hashtable(StringComparer.OrdinalIgnoreCase));
    }
}
