// The hot loop of a streaming invoke (issue 12): turns each "object"
// notification of the request being read (HelperChannel.Take) into a
// PSObject written straight to the command's pipeline, in compiled code. A
// PowerShell statement per object (a function call, a JSON parse through
// ConvertFromJson, dynamic member lookups) cost more than the object itself.
// Every other line (replies, pages, warnings, lines of other requests, an
// object this reader does not convert exactly like ConvertFrom-Json) goes
// back to the reader of replies (Helper.Receive).
// Built with TypedValues.cs by build.sh into module/bin/ExchangeMfa.Types.dll.
using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Management.Automation;
using System.Text;
using System.Text.Json;

namespace ExchangeMfa
{
    // Where a request's objects go: the command writing them and the type
    // name put first on each.
    public sealed class ObjectSink
    {
        public ObjectSink(Cmdlet cmdlet, long requestId, string typeName)
        {
            Cmdlet = cmdlet;
            RequestId = requestId;
            TypeName = typeName;
            prefix = Encoding.UTF8.GetBytes(
                "{\"jsonrpc\":\"2.0\",\"method\":\"object\",\"params\":{\"requestId\":" + requestId + ",");
        }

        public Cmdlet Cmdlet { get; }
        public long RequestId { get; }
        public string TypeName { get; }
        // Objects written by the compiled path (for tests and benchmarks).
        public long Written { get; private set; }

        private readonly byte[] prefix;
        private byte[] buffer = new byte[16384];   // the params object, reused

        // Writes the line's object and answers true, or answers false
        // (the line is something else, or needs the script's reader). The
        // line is UTF-8 as the helper wrote it (HelperChannel): it is never
        // decoded to a string and encoded back.
        public bool TryWrite(byte[] line)
        {
            if (!line.AsSpan().StartsWith(prefix)) return false;
            PSObject value = ObjectLine.Read(line, prefix.Length, ref buffer);
            if (value == null) return false;
            value.TypeNames.Insert(0, TypeName);
            Cmdlet.WriteObject(value);
            Written++;
            return true;
        }

        public bool TryWrite(string line) => TryWrite(Encoding.UTF8.GetBytes(line));
    }

    // Reading the objects JsonLine (or ConvertFrom-Json) made of a helper line.
    public static class Json
    {
        // A property's value; null when o is null or has no such property.
        public static object Field(object o, string name)
        {
            if (o == null) return null;
            PSObject wrapped = o as PSObject ?? PSObject.AsPSObject(o);
            return Unwrap(wrapped.Properties[name]?.Value);
        }

        // A property's value as PowerShell's [string] makes it ('' for null).
        public static string Text(object o, string name)
        {
            object value = Field(o, name);
            return value == null ? "" : LanguagePrimitives.ConvertTo<string>(value);
        }

        // A wrapped .NET object as itself; a PSCustomObject (whose base object
        // is an empty placeholder) stays the PSObject that holds its properties.
        public static object Unwrap(object value) =>
            value is PSObject wrapped && !(wrapped.BaseObject is PSCustomObject) ? wrapped.BaseObject : value;
    }

    // Any other line of the helper's (a reply, a notification) as
    // ConvertFrom-Json would make it, read the way ObjectLine reads objects:
    // compiled, and without loading PowerShell's Utility module and its JSON
    // library, which Connect's replies would otherwise pay for first
    // (issue 12, "Connect"). Null when this reader would not make exactly
    // what ConvertFrom-Json makes (a huge integer, a "/Date()/" string, a key
    // twice) or the line is not one JSON object: Helper.Receive then asks
    // ConvertFrom-Json itself.
    public static class JsonLine
    {
        public static PSObject Read(string line)
        {
            var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(line), new JsonReaderOptions { MaxDepth = 256 });
            try
            {
                if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
                if (!ObjectLine.TryReadValue(ref reader, out object value) || reader.Read()) return null;
                return (PSObject)value;
            }
            catch (JsonException) { return null; }
            catch (ArgumentException) { return null; }   // an empty key: PSNoteProperty refuses it
        }
    }

    // The rest of an object line after "...params":{"requestId":N, as
    // ConvertFrom-Json would make it: objects are PSCustomObjects, arrays
    // object[], integers Int64, other numbers Double, ISO 8601 date-times
    // DateTime. Anything else (a huge integer, a "/Date()/" string, a key
    // twice, an unexpected layout) answers null: the script reads the line.
    internal static class ObjectLine
    {
        public static PSObject Read(byte[] line, int start, ref byte[] buffer)
        {
            string types = null;
            // {"value":...,"types":"..."}: the params object without the
            // line's last brace.
            int n = line.Length;
            if (n < start + 2 || line[n - 1] != '}' || line[n - 2] != '}') return null;
            int length = n - start;   // '{' + the members
            if (buffer.Length < length) buffer = new byte[Math.Max(length, buffer.Length * 2)];
            buffer[0] = (byte)'{';
            Buffer.BlockCopy(line, start, buffer, 1, length - 1);
            var reader = new Utf8JsonReader(new ReadOnlySpan<byte>(buffer, 0, length), new JsonReaderOptions { MaxDepth = 256 });
            try
            {
                var shape = lastShape ??= new Shape();
                List<PSNoteProperty> members = null;
                bool sameNames = false;
                if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    if (reader.ValueTextEquals("value"u8))
                    {
                        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
                        members = ReadMembers(ref reader, shape, out sameNames);
                        if (members == null) return null;
                    }
                    else if (reader.ValueTextEquals("types"u8))
                    {
                        if (!reader.Read() || reader.TokenType != JsonTokenType.String) return null;
                        types = shape.TypesBytes != null && reader.ValueTextEquals(shape.TypesBytes) ? shape.Types : reader.GetString();
                    }
                    else
                        return null;
                }
                if (members == null || reader.TokenType != JsonTokenType.EndObject || reader.Read()) return null;
                if (!sameNames)
                {
                    if (!Unique(members)) return null;
                    shape.Remember(members);
                }
                if (types != null) ApplyTypes(members, types, shape);
                return Build(members);
            }
            catch (JsonException) { return null; }
            catch (InvalidOperationException) { return null; }
            catch (ArgumentException) { return null; }   // an empty key: PSNoteProperty refuses it
        }

        // The top-level members of the last object read on this thread. The
        // objects of a listing share their names, their order and their
        // types text: names are matched against it as bytes instead of made
        // into new strings, and what was worked out once for that shape (no
        // key twice, each member's type) holds for the next object too.
        private sealed class Shape
        {
            public readonly List<string> Names = new List<string>();
            public readonly List<byte[]> NameBytes = new List<byte[]>();
            public string Types;           // the types text Kinds was made for
            public byte[] TypesBytes;
            public string[] Kinds;         // each member's kind, by position (null: none)

            public void Remember(List<PSNoteProperty> members)
            {
                Names.Clear();
                NameBytes.Clear();
                foreach (PSNoteProperty member in members)
                {
                    Names.Add(member.Name);
                    NameBytes.Add(Encoding.UTF8.GetBytes(member.Name));
                }
                Kinds = null;
            }
        }

        [ThreadStatic] private static Shape lastShape;

        // TypedValues.Apply on members not yet in an object: each member's
        // kind, by position, found once for the shape and its types text,
        // not through PowerShell's member lookup.
        private static void ApplyTypes(List<PSNoteProperty> members, string types, Shape shape)
        {
            if (shape.Kinds == null || !ReferenceEquals(types, shape.Types))
            {
                var kinds = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                foreach (string entry in types.Split(','))
                {
                    int colon = entry.IndexOf(':');
                    if (colon > 0) kinds.TryAdd(entry.Substring(0, colon), entry.Substring(colon + 1));
                }
                shape.Kinds = new string[members.Count];
                for (int i = 0; i < members.Count; i++) kinds.TryGetValue(members[i].Name, out shape.Kinds[i]);
                shape.Types = types;
                shape.TypesBytes = Encoding.UTF8.GetBytes(types);
            }
            for (int i = 0; i < members.Count; i++)
            {
                string kind = shape.Kinds[i];
                if (kind != null && members[i].Value is string text)
                {
                    object typed = TypedValues.Convert(text, kind);
                    if (typed != null) members[i].Value = typed;
                }
            }
        }

        // False when a key comes twice in any casing (ConvertFrom-Json's own
        // error then). Checked here, so PowerShell's check per member (a
        // member lookup through the object's adapter) is skipped.
        [ThreadStatic] private static HashSet<string> names;

        private static bool Unique(List<PSNoteProperty> members)
        {
            var seen = names ??= new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            seen.Clear();
            foreach (PSNoteProperty member in members)
                if (!seen.Add(member.Name)) return false;
            return true;
        }

        private static PSObject Build(List<PSNoteProperty> members)
        {
            var obj = new PSObject();
            var properties = obj.Properties;
            foreach (PSNoteProperty member in members) properties.Add(member, true);
            return obj;
        }

        // An object's members; with a shape (the top level), sameNames says
        // whether they are the shape's names in its order, and the shape's
        // strings are used for them.
        private static List<PSNoteProperty> ReadMembers(ref Utf8JsonReader reader, Shape shape, out bool sameNames)
        {
            sameNames = shape != null;
            var members = new List<PSNoteProperty>(shape != null ? shape.Names.Count : 4);
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                int i = members.Count;
                string name;
                if (sameNames && i < shape.Names.Count && reader.ValueTextEquals(shape.NameBytes[i])) name = shape.Names[i];
                else
                {
                    sameNames = false;
                    name = reader.GetString();
                }
                if (!reader.Read()) return null;
                if (!TryReadValue(ref reader, out object value)) return null;
                members.Add(new PSNoteProperty(name, value));
            }
            sameNames = sameNames && members.Count == shape.Names.Count;
            return reader.TokenType == JsonTokenType.EndObject ? members : null;
        }

        internal static bool TryReadValue(ref Utf8JsonReader reader, out object value)
        {
            value = null;
            switch (reader.TokenType)
            {
                case JsonTokenType.String:
                    value = StringOrDate(reader.GetString());
                    return value != null;
                case JsonTokenType.Number:
                    if (reader.TryGetInt64(out long integer)) { value = integer; return true; }
                    if (IsInteger(reader.ValueSpan)) return false;   // BigInteger in ConvertFrom-Json
                    value = reader.GetDouble();
                    return true;
                case JsonTokenType.True: value = true; return true;
                case JsonTokenType.False: value = false; return true;
                case JsonTokenType.Null: return true;
                case JsonTokenType.StartObject:
                    List<PSNoteProperty> members = ReadMembers(ref reader, null, out _);
                    if (members == null || !Unique(members)) return false;
                    value = Build(members);
                    return true;
                case JsonTokenType.StartArray:
                    var items = new ArrayList();
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        if (!TryReadValue(ref reader, out object item)) return false;
                        items.Add(item);
                    }
                    value = items.ToArray();
                    return true;
                default:
                    return false;
            }
        }

        private static bool IsInteger(ReadOnlySpan<byte> number)
        {
            foreach (byte b in number)
                if (b == '.' || b == 'e' || b == 'E') return false;
            return true;
        }

        private static readonly string[] IsoFormats = { "yyyy-MM-ddTHH:mm:ss.FFFFFFFK" };

        // The string, or the DateTime ConvertFrom-Json makes of it; null for
        // the "/Date(...)/" form this reader leaves to the script.
        private static object StringOrDate(string text)
        {
            if (text.Length >= 19 && text.Length <= 40 && text[4] == '-' && text[7] == '-' && text[10] == 'T'
                && char.IsDigit(text[0]))
            {
                if (DateTime.TryParseExact(text, IsoFormats, System.Globalization.CultureInfo.InvariantCulture,
                                           System.Globalization.DateTimeStyles.RoundtripKind, out DateTime time))
                    return time;
                return null;   // looks like a date but is not one we parse exactly: the script decides
            }
            if (text.StartsWith("/Date(", StringComparison.Ordinal) || text.StartsWith("\\/Date(", StringComparison.Ordinal))
                return null;
            return text;
        }
    }
}
