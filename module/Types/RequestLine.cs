// A request to the helper as one JSON line (docs/protocol.md), written in
// compiled code: the first ConvertTo-Json of a process loads a module and
// compiles its serializer, most of Connect's first request (issue 12,
// "Connect"). Secrets (SecureString, char[]) at any depth become JSON text
// only in this writer's buffer, which is cleared after the write: no managed
// string ever holds them, so they cannot linger in a variable, a log or an
// error. A request the helper could not take as it is (a NUL character, which
// would end the helper's C strings: Set-Mailbox "user1`0x" would act on
// user1; nesting deeper than it reads) is refused before anything is sent.
using System;
using System.Buffers;
using System.Collections;
using System.Globalization;
using System.Management.Automation;
using System.Runtime.InteropServices;
using System.Security;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace ExchangeMfa
{
    // Why a request was not sent; the message completes "The parameters of
    // <method> ...".
    public sealed class RequestLineException : ArgumentException
    {
        public RequestLineException(string problem) : base(problem) { }
    }

    public static class RequestLine
    {
        // The helper's nesting limit (EM_JSON_MAX_DEPTH in native/src/json.h):
        // containers in one line, the request object included.
        public const int MaxDepth = 64;

        private static readonly JsonWriterOptions Options = new JsonWriterOptions
        {
            // Only what JSON requires is escaped; the helper reads UTF-8.
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            SkipValidation = true,
        };

        // Writes {"jsonrpc":"2.0","id":id,"method":method[,"params":...]} and
        // a newline to the channel, or throws RequestLineException having
        // written nothing.
        public static void Write(HelperChannel channel, long id, string method, IDictionary parameters)
        {
            using (var buffer = new ClearedBuffer())
            {
                using (var json = new Utf8JsonWriter(buffer, Options))
                {
                    json.WriteStartObject();
                    json.WriteString("jsonrpc", "2.0");
                    json.WriteNumber("id", id);
                    json.WriteString("method", method);
                    if (parameters != null)
                    {
                        json.WritePropertyName("params");
                        WriteValue(json, parameters, 2);
                    }
                    json.WriteEndObject();
                }
                buffer.GetSpan(1)[0] = (byte)'\n';
                buffer.Advance(1);
                channel.WriteWholeLine(buffer.Written);
            }
        }

        private static void WriteValue(Utf8JsonWriter json, object value, int depth)
        {
            value = Json.Unwrap(value);
            if (value is PSObject custom)
            {
                CheckDepth(depth);
                json.WriteStartObject();
                foreach (PSPropertyInfo property in custom.Properties)
                {
                    json.WritePropertyName(Checked(property.Name));
                    WriteValue(json, property.Value, depth + 1);
                }
                json.WriteEndObject();
                return;
            }
            switch (value)
            {
                case null:
                    json.WriteNullValue();
                    return;
                case string text:
                    json.WriteStringValue(Checked(text));
                    return;
                case char c:
                    json.WriteStringValue(Checked(c.ToString()));
                    return;
                case bool flag:
                    json.WriteBooleanValue(flag);
                    return;
                case SwitchParameter flag:
                    json.WriteBooleanValue(flag.IsPresent);
                    return;
                case SecureString secret:
                    WriteSecret(json, secret);
                    return;
                case char[] secret:
                    WriteSecret(json, secret);
                    return;
                case Enum choice:
                    json.WriteStringValue(choice.ToString());
                    return;
                case DateTime time:
                    json.WriteStringValue(time);
                    return;
                case DateTimeOffset time:
                    json.WriteStringValue(time);
                    return;
                case IDictionary table:
                    CheckDepth(depth);
                    json.WriteStartObject();
                    foreach (DictionaryEntry entry in table)
                    {
                        json.WritePropertyName(Checked(Convert.ToString(entry.Key, CultureInfo.InvariantCulture)));
                        WriteValue(json, entry.Value, depth + 1);
                    }
                    json.WriteEndObject();
                    return;
                case IEnumerable items:
                    CheckDepth(depth);
                    json.WriteStartArray();
                    foreach (object item in items) WriteValue(json, item, depth + 1);
                    json.WriteEndArray();
                    return;
            }
            if (!WriteNumber(json, value))
                json.WriteStringValue(Checked(LanguagePrimitives.ConvertTo<string>(value)));
        }

        private static bool WriteNumber(Utf8JsonWriter json, object value)
        {
            switch (Type.GetTypeCode(value.GetType()))
            {
                case TypeCode.SByte:
                case TypeCode.Int16:
                case TypeCode.Int32:
                case TypeCode.Int64:
                    json.WriteNumberValue(Convert.ToInt64(value, CultureInfo.InvariantCulture));
                    return true;
                case TypeCode.Byte:
                case TypeCode.UInt16:
                case TypeCode.UInt32:
                case TypeCode.UInt64:
                    json.WriteNumberValue(Convert.ToUInt64(value, CultureInfo.InvariantCulture));
                    return true;
                case TypeCode.Decimal:
                    json.WriteNumberValue((decimal)value);
                    return true;
                case TypeCode.Single:
                case TypeCode.Double:
                    double number = Convert.ToDouble(value, CultureInfo.InvariantCulture);
                    // JSON has no NaN or infinity: their names, as ConvertTo-Json writes them.
                    if (double.IsFinite(number)) json.WriteNumberValue(number);
                    else json.WriteStringValue(number.ToString(CultureInfo.InvariantCulture));
                    return true;
                default:
                    return false;
            }
        }

        private static void CheckDepth(int depth)
        {
            if (depth > MaxDepth) throw new RequestLineException($"are nested deeper than {MaxDepth} levels");
        }

        private static string Checked(string text)
        {
            if (text.IndexOf('\0') >= 0) throw new RequestLineException("contain a NUL character (`0)");
            return text;
        }

        private static void WriteSecret(Utf8JsonWriter json, SecureString secret)
        {
            var chars = new char[secret.Length];
            IntPtr plain = Marshal.SecureStringToGlobalAllocUnicode(secret);
            try
            {
                Marshal.Copy(plain, chars, 0, chars.Length);
                WriteSecret(json, chars);
            }
            finally
            {
                Marshal.ZeroFreeGlobalAllocUnicode(plain);
                Array.Clear(chars, 0, chars.Length);
            }
        }

        private const string HexDigits = "0123456789abcdef";

        // The secret as a JSON string written raw: Utf8JsonWriter would
        // escape it in pooled buffers that are not cleared.
        private static void WriteSecret(Utf8JsonWriter json, char[] secret)
        {
            if (Array.IndexOf(secret, '\0') >= 0) throw new RequestLineException("contain a NUL character (`0) in a secret");
            // Worst case: six characters each (\u00XX), two quotes, then UTF-8.
            var escaped = new char[secret.Length * 6 + 2];
            byte[] utf8 = null;
            try
            {
                int n = 0;
                escaped[n++] = '"';
                foreach (char c in secret)
                {
                    if (c == '"' || c == '\\') { escaped[n++] = '\\'; escaped[n++] = c; }
                    else if (c < 0x20)
                    {
                        // \u00XX written digit by digit: no string is made of it.
                        escaped[n++] = '\\'; escaped[n++] = 'u'; escaped[n++] = '0'; escaped[n++] = '0';
                        escaped[n++] = HexDigits[c >> 4]; escaped[n++] = HexDigits[c & 0xF];
                    }
                    else escaped[n++] = c;
                }
                escaped[n++] = '"';
                utf8 = new byte[Encoding.UTF8.GetMaxByteCount(n)];
                int length = Encoding.UTF8.GetBytes(escaped, 0, n, utf8, 0);
                json.WriteRawValue(new ReadOnlySpan<byte>(utf8, 0, length), skipInputValidation: true);
            }
            finally
            {
                Array.Clear(escaped, 0, escaped.Length);
                if (utf8 != null) Array.Clear(utf8, 0, utf8.Length);
            }
        }

        // The line's bytes; every array it used is cleared when it grows and
        // when it is disposed, since the line may hold secrets.
        private sealed class ClearedBuffer : IBufferWriter<byte>, IDisposable
        {
            private byte[] bytes = new byte[1024];
            private int count;

            public ReadOnlySpan<byte> Written => new ReadOnlySpan<byte>(bytes, 0, count);

            public void Advance(int written) => count += written;

            public Memory<byte> GetMemory(int sizeHint = 0) => new Memory<byte>(Reserve(sizeHint), count, bytes.Length - count);

            public Span<byte> GetSpan(int sizeHint = 0) => new Span<byte>(Reserve(sizeHint), count, bytes.Length - count);

            private byte[] Reserve(int sizeHint)
            {
                int needed = count + Math.Max(sizeHint, 1);
                if (needed > bytes.Length)
                {
                    var larger = new byte[Math.Max(needed, bytes.Length * 2)];
                    Buffer.BlockCopy(bytes, 0, larger, 0, count);
                    Array.Clear(bytes, 0, bytes.Length);
                    bytes = larger;
                }
                return bytes;
            }

            public void Dispose() => Array.Clear(bytes, 0, bytes.Length);
        }
    }
}
