using System.Buffers.Binary;
using System.Text;

namespace Retain.Tests;

/// <summary>How a pickle was written: by which Python, with which protocol, for which numpy.</summary>
public enum PickleFlavour
{
    /// <summary>Python 2 cPickle, protocol 2 (CIFAR's python version): strs for names and for array bytes.</summary>
    Python2,
    /// <summary>Python 3, protocol 2: bytes written as <c>_codecs.encode(latin-1 str, 'latin1')</c>.</summary>
    Python3Protocol2,
    /// <summary>Python 3, protocol 4: SHORT_BINUNICODE, STACK_GLOBAL, MEMOIZE, SHORT_BINBYTES/BINBYTES, a FRAME.</summary>
    Protocol4,
    /// <summary>Python 3.8+, protocol 5: numpy writes <c>_frombuffer(bytearray, dtype, shape, order)</c>.</summary>
    Protocol5,
    /// <summary>Protocol 4 as numpy 2 writes it (module <c>numpy._core</c>).</summary>
    Protocol4Numpy2,
}

/// <summary>A numpy array to pickle: shape, dtype code (<c>u1</c>, <c>i8</c>...), byte order and raw bytes.</summary>
public sealed record NdArray(long[] Shape, string Dtype, byte[] Data, char ByteOrder = '|', bool Fortran = false)
{
    public static NdArray UInt8(long[] shape, byte[] data) => new(shape, "u1", data);
    public static NdArray Int8(long[] shape, byte[] data) => new(shape, "i1", data);

    public static NdArray Int64(params long[] values)
    {
        var data = new byte[values.Length * 8];
        for (var i = 0; i < values.Length; i++) BinaryPrimitives.WriteInt64LittleEndian(data.AsSpan(8 * i), values[i]);
        return new NdArray([values.Length], "i8", data, '<');
    }
}

/// <summary>A numpy scalar (as numpy writes the elements of e.g. <c>list(np.array([...]))</c>): dtype code and raw bytes.</summary>
public sealed record NdScalar(string Dtype, byte[] Data, char ByteOrder = '<')
{
    public static NdScalar Int64(long value) => new("i8", BitConverter.GetBytes(value));
}

/// <summary>
/// Writes pickles opcode by opcode, as Python's pickler and numpy's <c>__reduce__</c> lay them out (checked against
/// Python 3.11 + numpy 1.24 with <c>pickletools.dis</c> and <c>pickle.load(..., encoding='latin1')</c>). Values:
/// <see cref="Dictionary{TKey,TValue}"/> with string keys, <see cref="NdArray"/>, <see cref="NdScalar"/>, int[], string[] and object[] (lists), int, string.
/// </summary>
public sealed class PickleWriter(PickleFlavour flavour)
{
    private readonly MemoryStream _out = new();
    private bool Python2 => flavour == PickleFlavour.Python2;
    private bool Protocol2 => flavour is PickleFlavour.Python2 or PickleFlavour.Python3Protocol2;
    private string Core => flavour == PickleFlavour.Protocol4Numpy2 ? "numpy._core" : "numpy.core";

    public static byte[] Dumps(object value, PickleFlavour flavour)
    {
        var writer = new PickleWriter(flavour);
        writer.Op(0x80).Op(flavour switch { PickleFlavour.Protocol5 => 5, PickleFlavour.Protocol4 or PickleFlavour.Protocol4Numpy2 => 4, _ => 2 });
        writer.Value(value);
        writer.Op('.');
        var body = writer._out.ToArray();
        if (writer.Protocol2) return body;
        // Protocols 4+ open with a FRAME holding the rest (one frame: the pickles here are small).
        var framed = new byte[body.Length + 9];
        body.AsSpan(0, 2).CopyTo(framed);
        framed[2] = 0x95;
        BinaryPrimitives.WriteInt64LittleEndian(framed.AsSpan(3), body.Length - 2);
        body.AsSpan(2).CopyTo(framed.AsSpan(11));
        return framed;
    }

    private PickleWriter Op(int opcode) { _out.WriteByte((byte)opcode); return this; }
    private PickleWriter Raw(ReadOnlySpan<byte> bytes) { _out.Write(bytes); return this; }
    private void Memoize() { if (!Protocol2) Op(0x94); }

    private void Value(object? value)
    {
        switch (value)
        {
            case null: Op('N'); break;
            case bool b: Op(b ? 0x88 : 0x89); break;
            case int i: Int(i); break;
            case string s: Str(s); break;
            case NdArray a: Array(a); break;
            case NdScalar scalar:
                Global($"{Core}.multiarray", "scalar");
                Dtype(scalar.Dtype, scalar.ByteOrder);
                Bytes(scalar.Data);
                Op(0x86); Memoize();
                Op('R'); Memoize();
                break;
            case int[] list:
                Op(']'); Memoize();
                if (list.Length > 0) { Op('('); foreach (var i in list) Int(i); Op('e'); }
                break;
            case string[] list:
                Op(']'); Memoize();
                if (list.Length > 0) { Op('('); foreach (var item in list) Str(item); Op('e'); }
                break;
            case object[] list:
                Op(']'); Memoize();
                if (list.Length > 0) { Op('('); foreach (var item in list) Value(item); Op('e'); }
                break;
            case Dictionary<string, object> dict:
                Op('}'); Memoize();
                Op('(');
                foreach (var (k, v) in dict) { Str(k); Value(v); }
                Op('u');
                break;
            default: throw new ArgumentException($"cannot pickle {value.GetType()}");
        }
    }

    private void Int(int v)
    {
        if (v is >= 0 and < 256) Op('K').Op(v);
        else if (v is >= 0 and < 65536) { Op('M'); Span<byte> b = stackalloc byte[2]; BinaryPrimitives.WriteUInt16LittleEndian(b, (ushort)v); Raw(b); }
        else { Op('J'); Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteInt32LittleEndian(b, v); Raw(b); }
    }

    /// <summary>A text value: a str in Python 2 (SHORT_BINSTRING), unicode in Python 3.</summary>
    private void Str(string s)
    {
        if (Python2) { PyStr(Encoding.Latin1.GetBytes(s)); return; }
        var utf8 = Encoding.UTF8.GetBytes(s);
        if (flavour == PickleFlavour.Python3Protocol2 || utf8.Length > 255) { Op('X').Len4(utf8.Length).Raw(utf8); }
        else Op(0x8c).Op(utf8.Length).Raw(utf8);
        Memoize();
    }

    private void PyStr(byte[] bytes)
    {
        if (bytes.Length < 256) Op('U').Op(bytes.Length).Raw(bytes);
        else Op('T').Len4(bytes.Length).Raw(bytes);
    }

    private PickleWriter Len4(int n) { Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteInt32LittleEndian(b, n); return Raw(b); }

    /// <summary>Raw bytes: a str in Python 2, _codecs.encode(...) in Python 3 protocol 2, bytes from protocol 3 on.</summary>
    private void Bytes(byte[] data)
    {
        switch (flavour)
        {
            case PickleFlavour.Python2:
                PyStr(data);
                break;
            case PickleFlavour.Python3Protocol2:
                Global("_codecs", "encode");
                Str(Encoding.Latin1.GetString(data));
                Str("latin1");
                Op(0x86).Op('R');
                break;
            default:
                if (data.Length < 256) Op('C').Op(data.Length).Raw(data);
                else Op('B').Len4(data.Length).Raw(data);
                Memoize();
                break;
        }
    }

    private void Global(string module, string name)
    {
        if (Protocol2) { Op('c').Raw(Encoding.ASCII.GetBytes($"{module}\n{name}\n")); return; }
        Str(module); Str(name); Op(0x93); Memoize();
    }

    private void Dtype(string code, char byteOrder)
    {
        Global("numpy", "dtype");
        Str(code);
        if (Python2) { Int(0); Int(1); } else Op(0x89).Op(0x88);
        Op(0x87).Op('R'); Memoize();
        Op('(');
        Int(3); Str(byteOrder.ToString()); Op('N').Op('N').Op('N'); Op('J').Len4(-1); Op('J').Len4(-1); Int(0);
        Op('t'); Memoize();
        Op('b');
    }

    private void Shape(long[] shape)
    {
        if (shape.Length > 3) Op('(');
        foreach (var n in shape) Int(checked((int)n));
        Op(shape.Length switch { 0 => ')', 1 => 0x85, 2 => 0x86, 3 => 0x87, _ => 't' });
        Memoize();
    }

    private void Array(NdArray a)
    {
        if (flavour == PickleFlavour.Protocol5)
        {
            Global($"{Core}.numeric", "_frombuffer");
            Op('(');
            Op(0x96); Span<byte> n = stackalloc byte[8]; BinaryPrimitives.WriteInt64LittleEndian(n, a.Data.Length); Raw(n).Raw(a.Data); Memoize();
            Dtype(a.Dtype, a.ByteOrder);
            Shape(a.Shape);
            Str(a.Fortran ? "F" : "C");
            Op('t'); Memoize();
            Op('R'); Memoize();
            return;
        }
        Global($"{Core}.multiarray", "_reconstruct");
        Global("numpy", "ndarray");
        Int(0); Op(0x85); Memoize();
        Bytes("b"u8.ToArray());
        Op(0x87); Memoize();
        Op('R'); Memoize();
        Op('(');
        Int(1);
        Shape(a.Shape);
        Dtype(a.Dtype, a.ByteOrder);
        Op(a.Fortran ? 0x88 : 0x89);
        Bytes(a.Data);
        Op('t'); Memoize();
        Op('b');
    }
}
