// Typed values for what Exchange writes as text (issue 10). The helper names
// the members that carry a type hint ("X@data.type": "System.Guid", ...) or a
// size ("99 GB (106,300,440,576 bytes)", "Unlimited"); Apply converts only
// those, in compiled code, so a 100,000-object read pays microseconds, not a
// PowerShell statement per member. Built by build.sh into
// module/bin/ExchangeMfa.Types.dll (tools/types/ExchangeMfa.Types.csproj).
using System;
using System.Globalization;
using System.Management.Automation;

namespace ExchangeMfa
{
    // Exchange's ByteQuantifiedSize: ToBytes/ToKB/.../ToTB in whole units
    // (rounded down), comparable with sizes, their text or a byte count.
    public sealed class ByteQuantifiedSize : IComparable, IEquatable<ByteQuantifiedSize>
    {
        private readonly string text;
        private readonly ulong bytes;

        public ByteQuantifiedSize(string text)
        {
            this.text = text;
            int open = text.LastIndexOf('(');
            int end = text.LastIndexOf(" bytes)", StringComparison.Ordinal);
            if (open < 0 || end <= open)
                throw new FormatException("not a size: " + text);
            bytes = ulong.Parse(text.Substring(open + 1, end - open - 1), NumberStyles.AllowThousands,
                                CultureInfo.InvariantCulture);
        }

        public ulong ToBytes() { return bytes; }
        public ulong ToKB() { return bytes >> 10; }
        public ulong ToMB() { return bytes >> 20; }
        public ulong ToGB() { return bytes >> 30; }
        public ulong ToTB() { return bytes >> 40; }
        public override string ToString() { return text; }

        internal static ulong BytesOf(object value)
        {
            value = value is PSObject ps ? ps.BaseObject : value;
            if (value is ByteQuantifiedSize size) return size.bytes;
            if (value is Unlimited unlimited && !unlimited.IsUnlimited) return unlimited.Value.bytes;
            if (value is string s && s.EndsWith(" bytes)", StringComparison.Ordinal)) return new ByteQuantifiedSize(s).bytes;
            return Convert.ToUInt64(value, CultureInfo.InvariantCulture);
        }

        public int CompareTo(object other)
        {
            if (other == null) return 1;
            if (Unlimited.IsUnlimitedValue(other)) return -1;
            return bytes.CompareTo(BytesOf(other));
        }

        public bool Equals(ByteQuantifiedSize other) { return other != null && other.bytes == bytes; }
        public override bool Equals(object other)
        {
            try { return other != null && !Unlimited.IsUnlimitedValue(other) && BytesOf(other) == bytes; }
            catch (Exception e) when (e is FormatException || e is InvalidCastException || e is OverflowException) { return false; }
        }
        public override int GetHashCode() { return bytes.GetHashCode(); }
    }

    // Exchange's Unlimited<ByteQuantifiedSize>: IsUnlimited, else Value (read
    // from the text when first asked for). Equal to the text it came from;
    // unlimited is larger than every size.
    public sealed class Unlimited : IComparable
    {
        private readonly string text;
        private ByteQuantifiedSize value;

        public Unlimited(string text) { this.text = text; }

        public bool IsUnlimited { get { return text == "Unlimited"; } }
        public ByteQuantifiedSize Value
        {
            get
            {
                if (value == null && !IsUnlimited) value = new ByteQuantifiedSize(text);
                return value;
            }
        }
        public override string ToString() { return text; }

        internal static bool IsUnlimitedValue(object other)
        {
            other = other is PSObject ps ? ps.BaseObject : other;
            return (other is Unlimited u && u.IsUnlimited) || (other is string s && s == "Unlimited");
        }

        public int CompareTo(object other)
        {
            if (other == null) return 1;
            bool otherUnlimited = IsUnlimitedValue(other);
            if (IsUnlimited) return otherUnlimited ? 0 : 1;
            return otherUnlimited ? -1 : Value.CompareTo(other);
        }
        public override bool Equals(object other)
        {
            if (other == null) return false;
            if (IsUnlimited || IsUnlimitedValue(other)) return IsUnlimited && IsUnlimitedValue(other);
            return Value.Equals(other);
        }
        public override int GetHashCode() { return text.GetHashCode(); }
    }

    public static class TypedValues
    {
        // Converts obj's members named in types ("Name:Kind,Name:Kind", from
        // the helper) in place; a member that is no longer text
        // (ConvertFrom-Json made a date a DateTime already) or does not
        // parse is left as it is.
        public static void Apply(PSObject obj, string types)
        {
            foreach (string entry in types.Split(','))
            {
                int colon = entry.IndexOf(':');
                if (colon <= 0) continue;
                PSPropertyInfo member = obj.Properties[entry.Substring(0, colon)];
                string text = member == null ? null : member.Value as string;
                if (text == null) continue;
                object typed = Convert(text, entry.Substring(colon + 1));
                if (typed != null) member.Value = typed;
            }
        }

        internal static object Convert(string text, string kind)
        {
            switch (kind)
            {
                case "Size":
                case "Unlimited":
                    return new Unlimited(text);
                case "Guid":
                    return Guid.TryParse(text, out Guid guid) ? (object)guid : null;
                case "DateTime":
                    return DateTime.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind,
                                             out DateTime time) ? (object)time : null;
                case "Int32":
                    return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int i) ? (object)i : null;
                case "Int64":
                    return long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long l) ? (object)l : null;
                default:
                    return null;
            }
        }
    }
}
