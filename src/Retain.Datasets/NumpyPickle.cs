using System.Buffers.Binary;
using System.Collections;
using System.Numerics;
using Razorvine.Pickle;

namespace Retain.Data;

/// <summary>A numpy element type as pickled: kind (<c>u</c>, <c>i</c>, <c>b</c>, <c>f</c>, ...), size in bytes, byte order.</summary>
internal sealed record NumpyDtype(char Kind, int ItemSize, bool BigEndian)
{
    public override string ToString() => $"{(BigEndian ? ">" : "")}{Kind}{ItemSize}";
}

/// <summary>A numpy array read from a pickle: shape, element type and its bytes in C (row-major) order.</summary>
internal sealed class NumpyArray(long[] shape, NumpyDtype dtype, byte[] data)
{
    public long[] Shape { get; } = shape;
    public NumpyDtype Dtype { get; } = dtype;
    /// <summary>The elements in C order, each in the byte order <see cref="Dtype"/> names.</summary>
    public byte[] Data { get; } = data;
    public long Count => Data.LongLength / Dtype.ItemSize;
    public string ShapeText => $"[{string.Join(",", Shape)}]";

    /// <summary>Element <paramref name="index"/> (C order) as an integer; null for a float that is not a whole number.</summary>
    public long? IntegerAt(long index)
    {
        var bytes = Data.AsSpan(checked((int)(index * Dtype.ItemSize)), Dtype.ItemSize);
        return (Dtype.Kind, Dtype.ItemSize) switch
        {
            ('u' or 'b', 1) => bytes[0],
            ('i', 1) => (sbyte)bytes[0],
            ('u', 2) => Dtype.BigEndian ? BinaryPrimitives.ReadUInt16BigEndian(bytes) : BinaryPrimitives.ReadUInt16LittleEndian(bytes),
            ('i', 2) => Dtype.BigEndian ? BinaryPrimitives.ReadInt16BigEndian(bytes) : BinaryPrimitives.ReadInt16LittleEndian(bytes),
            ('u', 4) => Dtype.BigEndian ? BinaryPrimitives.ReadUInt32BigEndian(bytes) : BinaryPrimitives.ReadUInt32LittleEndian(bytes),
            ('i', 4) => Dtype.BigEndian ? BinaryPrimitives.ReadInt32BigEndian(bytes) : BinaryPrimitives.ReadInt32LittleEndian(bytes),
            ('i', 8) => Dtype.BigEndian ? BinaryPrimitives.ReadInt64BigEndian(bytes) : BinaryPrimitives.ReadInt64LittleEndian(bytes),
            ('u', 8) => (Dtype.BigEndian ? BinaryPrimitives.ReadUInt64BigEndian(bytes) : BinaryPrimitives.ReadUInt64LittleEndian(bytes)) is var u && u <= long.MaxValue ? (long)u : null,
            ('f', 4) => WholeNumber(Dtype.BigEndian ? BinaryPrimitives.ReadSingleBigEndian(bytes) : BinaryPrimitives.ReadSingleLittleEndian(bytes)),
            ('f', 8) => WholeNumber(Dtype.BigEndian ? BinaryPrimitives.ReadDoubleBigEndian(bytes) : BinaryPrimitives.ReadDoubleLittleEndian(bytes)),
            _ => null,
        };
    }

    private static long? WholeNumber(double v) => Math.Floor(v) == v && Math.Abs(v) < 1e15 ? (long)v : null;

    /// <summary>Whether <see cref="IntegerAt"/> can read this element type.</summary>
    public bool HasNumericElements => Dtype.Kind is 'u' or 'i' or 'b' or 'f' && Dtype.ItemSize is 1 or 2 or 4 or 8 && (Dtype.Kind != 'f' || Dtype.ItemSize >= 4);
}

/// <summary>
/// Reads Python pickles that hold dicts of numpy arrays and lists (CIFAR's python version, the GTSRB, FaceScrub and
/// notMNIST pickles) with Razorvine.Pickle. Numpy objects are rebuilt from the parts its pickles are made of:
/// <c>_reconstruct</c> + <c>dtype</c> + <c>__setstate__</c> (every protocol), <c>_frombuffer</c> (protocol 5) and
/// <c>scalar</c>, under both <c>numpy.core</c> (numpy 1) and <c>numpy._core</c> (numpy 2) module names. The array
/// bytes arrive as bytes (Python 3), as a latin-1 <c>str</c> (Python 2), or via <c>_codecs.encode</c> (Python 3,
/// protocol 2), which Razorvine maps to bytes itself.
/// </summary>
internal static class NumpyPickle
{
    /// <summary>
    /// Far above the largest pickle of the seed (CIFAR-100 train, 161 MB). Short of its repetition opcodes (whose
    /// copies are shared references), a pickle cannot build more objects than it has bytes, so this bounds memory.
    /// </summary>
    public const long MaxFileBytes = 1L << 30;

    static NumpyPickle()
    {
        // Razorvine keeps its constructors in one static table; registering once here (the type initialiser runs
        // once, thread-safely) leaves it read-only afterwards.
        foreach (var core in new[] { "numpy.core", "numpy._core" })
        {
            Unpickler.registerConstructor($"{core}.multiarray", "_reconstruct", new NdarrayConstructor());
            Unpickler.registerConstructor($"{core}.multiarray", "scalar", new ScalarConstructor());
            Unpickler.registerConstructor($"{core}.numeric", "_frombuffer", new FromBufferConstructor());
        }
        Unpickler.registerConstructor("numpy", "dtype", new DtypeConstructor());
    }

    /// <summary>Unpickles <paramref name="path"/>, which must hold a dict; numpy arrays in it become <see cref="NumpyArray"/>.</summary>
    public static IReadOnlyDictionary<string, object?> LoadDict(string path)
    {
        var root = Load(path);
        if (root is not Hashtable table) throw new DataFileException(path, $"the pickle holds {TypeName(root)}, not a dict");
        var dict = new Dictionary<string, object?>();
        foreach (DictionaryEntry entry in table)
        {
            // Python 3 writes str keys; a Python 2 dict re-pickled after loading with encoding='bytes' has bytes keys.
            var key = entry.Key switch
            {
                string s => s,
                byte[] b => System.Text.Encoding.Latin1.GetString(b),
                _ => null,
            };
            if (key is not null) dict[key] = Finish(path, entry.Value, key);
        }
        return dict;
    }

    private static object? Load(string path)
    {
        if (!File.Exists(path)) throw new DataFileException(path, "file not found");
        byte[] bytes;
        try
        {
            var length = new FileInfo(path).Length;
            if (length == 0) throw new DataFileException(path, "empty file");
            if (length > MaxFileBytes) throw new DataFileException(path, $"{length} bytes is larger than any dataset pickle this reader expects ({MaxFileBytes})");
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataFileException(path, $"cannot read ({e.Message})", e);
        }
        CheckBeforeUnpickling(path, bytes);
        try
        {
            using var unpickler = new Unpickler();
            return unpickler.loads(bytes);
        }
        // Razorvine reports malformed input through many exception types: its own PickleException, but also
        // IndexOutOfRange/ArgumentOutOfRange (truncation), InvalidCast and NullReference (opcodes applied to the
        // wrong objects on its unchecked stack). Everything thrown while unpickling is therefore a bad file.
        catch (Exception e) when (e is IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            // Razorvine reads past its buffer or pops an empty stack.
            throw new DataFileException(path, $"not a valid pickle: truncated or corrupt ({Describe(e)})", e);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new DataFileException(path, $"not a valid pickle ({Describe(e)})", e);
        }
    }

    /// <summary>Python's own limit on the digits of an int written as text (CVE-2020-10735).</summary>
    private const int MaxTextIntegerDigits = 4300;

    /// <summary>
    /// Bound on the memory the objects of one pickle may take once built (the real CIFAR-100 train pickle needs
    /// about 0.3 GB: its 153 MB of pixels arrive as a latin-1 string of two bytes a character).
    /// </summary>
    private const long MaxUnpickledBytes = 4L << 30;

    /// <summary>
    /// Checks a pickle for two attacks Razorvine does not guard against, by walking its opcodes (building nothing,
    /// skipping each one's argument by its encoded size as pickletools does); Razorvine has no hook for either.
    /// <list type="bullet">
    /// <item>Text integers (INT, LONG) are parsed with BigInteger.Parse, whose time grows faster than the digit count
    /// (a 4-million-digit LONG takes 20 s): longer ones than Python itself accepts are rejected.</item>
    /// <item>One-byte opcodes can build objects far larger than themselves (EMPTY_DICT makes a Hashtable, DUP a stack
    /// slot): a deliberately generous estimate of what the pickle builds must stay within
    /// <see cref="MaxUnpickledBytes"/>, so a small file cannot exhaust memory.</item>
    /// </list>
    /// Anything the walk cannot follow (an unknown opcode, a bad length) is left for Razorvine to report.
    /// </summary>
    private static void CheckBeforeUnpickling(string path, byte[] pickle)
    {
        const long PerOpcode = 64, PerContainer = 256, PerPayloadByte = 3;
        long position = 0, estimate = 0;
        while (position < pickle.Length)
        {
            var opcode = pickle[position++];
            long argument, payload = 0;
            estimate += PerOpcode;
            switch (opcode)
            {
                case (byte)'.': // STOP
                    position = pickle.Length;
                    continue;
                case (byte)'I' or (byte)'L':
                    var end = Array.IndexOf(pickle, (byte)'\n', (int)position);
                    if (end < 0) return;
                    if (end - position > MaxTextIntegerDigits + 2)
                        throw new DataFileException(path, $"not a valid pickle: a text integer of {end - position} characters at byte {position - 1} (Python accepts {MaxTextIntegerDigits} digits)");
                    argument = end + 1 - position;
                    break;
                case (byte)'F' or (byte)'S' or (byte)'V' or (byte)'P' or (byte)'g' or (byte)'p' or (byte)'c' or (byte)'i':
                    var lines = opcode is (byte)'c' or (byte)'i' ? 2 : 1;
                    argument = 0;
                    for (var line = 0; line < lines; line++)
                    {
                        var newline = Array.IndexOf(pickle, (byte)'\n', (int)(position + argument));
                        if (newline < 0) return;
                        argument = newline + 1 - position;
                    }
                    payload = argument;
                    break;
                case (byte)'K' or (byte)'h' or (byte)'q' or 0x80 or 0x82: argument = 1; break;
                case (byte)'M' or 0x83: argument = 2; break;
                case (byte)'J' or (byte)'j' or (byte)'r' or 0x84: argument = 4; break;
                case (byte)'G' or 0x95: argument = 8; break;
                case (byte)'U' or (byte)'C' or 0x8c or 0x8a:
                    if (position + 1 > pickle.Length) return;
                    payload = pickle[position];
                    argument = 1 + payload;
                    break;
                case (byte)'T' or (byte)'X' or (byte)'B' or 0x8b:
                    if (position + 4 > pickle.Length) return;
                    payload = BinaryPrimitives.ReadUInt32LittleEndian(pickle.AsSpan((int)position));
                    argument = 4 + payload;
                    break;
                case 0x8d or 0x8e or 0x96:
                    if (position + 8 > pickle.Length) return;
                    var length = BinaryPrimitives.ReadUInt64LittleEndian(pickle.AsSpan((int)position));
                    if (length > (ulong)pickle.Length) return;
                    payload = (long)length;
                    argument = 8 + payload;
                    break;
                // Opcodes that make a container or call a constructor.
                case (byte)'}' or (byte)']' or (byte)'d' or (byte)'l' or (byte)'t' or (byte)'R' or (byte)'o' or (byte)'b'
                    or 0x81 or 0x8f or 0x91 or 0x92:
                    argument = 0;
                    estimate += PerContainer;
                    break;
                case (byte)'(' or (byte)'0' or (byte)'1' or (byte)'2' or (byte)'N' or (byte)'a' or (byte)'e' or (byte)'s'
                    or (byte)')' or (byte)'u' or (byte)'Q' or (>= 0x85 and <= 0x89) or 0x90 or 0x93 or 0x94 or 0x97 or 0x98:
                    argument = 0;
                    break;
                default: return;
            }
            estimate += PerPayloadByte * Math.Min(payload, pickle.Length);
            if (estimate > MaxUnpickledBytes)
                throw new DataFileException(path, $"not a valid pickle for this reader: by byte {position - 1} it would already build over {MaxUnpickledBytes >> 30} GB of objects");
            position += argument;
        }
    }

    private static string Describe(Exception e)
    {
        var messages = new List<string>();
        for (Exception? x = e; x is not null; x = x.InnerException)
            if (x is not System.Reflection.TargetInvocationException && !messages.Contains(x.Message)) messages.Add(x.Message.Trim());
        return FileText.Printable(string.Join(": ", messages));
    }

    /// <summary>Turns a numpy stand-in that Razorvine built for a dict value into a <see cref="NumpyArray"/>.</summary>
    private static object? Finish(string path, object? value, string key) => value switch
    {
        PickledNdarray a => a.ToArray(path, key),
        PickledDtype => throw new DataFileException(path, $"'{key}' is a numpy dtype, not an array"),
        _ => value,
    };

    internal static string TypeName(object? value) => value switch
    {
        null => "None",
        Hashtable => "a dict",
        ArrayList => "a list",
        object[] => "a tuple",
        string => "a str",
        byte[] => "bytes",
        NumpyArray a => $"a numpy array {a.ShapeText} of {a.Dtype}",
        int or long or BigInteger => "an int",
        _ => $"an object of type {value.GetType().Name}",
    };

    // ---- checks shared by the readers of dict-of-arrays pickles ----

    /// <summary>The entry <paramref name="key"/> of a pickled dict, or a clear error that names the keys there are.</summary>
    internal static object Entry(string path, IReadOnlyDictionary<string, object?> dict, string key) =>
        dict.TryGetValue(key, out var value) && value is not null
            ? value
            : throw new DataFileException(path, $"no '{key}' entry in the pickled dict (keys: {FileText.Printable(string.Join(", ", dict.Keys.Order(StringComparer.Ordinal)))})");

    /// <summary>
    /// Image bytes from an array of 1-byte integers (uint8, or int8 reinterpreted as numpy's <c>astype(uint8)</c>
    /// does) whose shape is <c>[N, dims...]</c> with the given trailing dimensions (-1: any positive size).
    /// </summary>
    internal static NumpyArray ImageArray(string path, object value, string key, params int[] trailing)
    {
        if (value is not NumpyArray array) throw new DataFileException(path, $"'{key}' is {TypeName(value)}, not a numpy array");
        if (array.Dtype.ItemSize != 1 || array.Dtype.Kind is not ('u' or 'i'))
            throw new DataFileException(path, $"'{key}' has element type {array.Dtype}, expected uint8 or int8");
        var shape = array.Shape;
        var fits = shape.Length == trailing.Length + 1 && shape[0] > 0
                   && trailing.Select((t, d) => t < 0 ? shape[d + 1] > 0 : shape[d + 1] == t).All(ok => ok);
        if (!fits)
            throw new DataFileException(path, $"'{key}' has shape {array.ShapeText}, expected [N,{string.Join(",", trailing.Select(t => t < 0 ? "*" : t.ToString()))}]");
        return array;
    }

    /// <summary>
    /// <paramref name="count"/> labels in <c>0..classCount-1</c> from a list of ints (or numpy integer scalars) or
    /// from a numpy integer array of shape <c>[N]</c> or <c>[N,1]</c>.
    /// </summary>
    internal static byte[] Labels(string path, object value, string key, long count, int classCount)
    {
        long? At(long i) => value switch
        {
            NumpyArray a => a.IntegerAt(i),
            ArrayList list => list[(int)i] switch
            {
                int v => v,
                long v => v,
                BigInteger v when v >= long.MinValue && v <= long.MaxValue => (long)v,
                bool v => v ? 1 : 0,
                _ => null,
            },
            _ => null,
        };
        long length;
        switch (value)
        {
            case NumpyArray a:
                if (!a.HasNumericElements)
                    throw new DataFileException(path, $"'{key}' has element type {a.Dtype}, expected integers");
                if (!(a.Shape.Length == 1 || a.Shape.Length == 2 && a.Shape[1] == 1))
                    throw new DataFileException(path, $"'{key}' has shape {a.ShapeText}, expected [N] or [N,1]");
                length = a.Shape[0];
                break;
            case ArrayList list:
                length = list.Count;
                break;
            default:
                throw new DataFileException(path, $"'{key}' is {TypeName(value)}, expected a list or numpy array of labels");
        }
        if (length != count) throw new DataFileException(path, $"{length} labels in '{key}' for {count} images");
        var labels = new byte[count];
        for (long i = 0; i < count; i++)
        {
            var label = At(i);
            if (label is null) throw new DataFileException(path, $"'{key}' entry {i} is not an integer label");
            if (label < 0 || label >= classCount)
                throw new DataFileException(path, $"label {label} at index {i} of '{key}' is outside 0..{classCount - 1}");
            labels[i] = (byte)label;
        }
        return labels;
    }

    // ---- the numpy stand-ins that Razorvine builds ----

    /// <summary>The raw bytes of a pickled array or scalar: bytes (Python 3) or a latin-1 str (Python 2).</summary>
    private static byte[] RawBytes(object? value, string what)
    {
        switch (value)
        {
            case byte[] bytes:
                return bytes;
            case string text:
                // Python 2 pickles array bytes as a str, which Razorvine decodes one char per byte (latin-1).
                var result = new byte[text.Length];
                for (var i = 0; i < text.Length; i++)
                {
                    if (text[i] > 0xff) throw new PickleException($"{what} is a str with a character beyond latin-1, not raw bytes");
                    result[i] = (byte)text[i];
                }
                return result;
            default:
                throw new PickleException($"{what} is {TypeName(value)}, expected bytes or a latin-1 str");
        }
    }

    private static long[] Shape(object? value)
    {
        if (value is not object[] dims) throw new PickleException($"array shape is {TypeName(value)}, expected a tuple");
        var shape = new long[dims.Length];
        for (var d = 0; d < dims.Length; d++)
        {
            shape[d] = dims[d] switch
            {
                int v => v,
                long v => v,
                BigInteger v when v >= 0 && v <= int.MaxValue => (long)v,
                _ => -1,
            };
            if (shape[d] < 0) throw new PickleException($"array dimension {d} is not a size");
        }
        return shape;
    }

    /// <summary>Checks that <paramref name="data"/> holds exactly the elements <paramref name="shape"/> needs (as numpy does).</summary>
    private static void CheckSize(long[] shape, PickledDtype dtype, byte[] data)
    {
        long elements = 1;
        foreach (var n in shape)
        {
            elements = n == 0 ? 0 : elements;
            if (n != 0 && elements > Array.MaxLength / n) throw new PickleException($"array shape [{string.Join(",", shape)}] is too large");
            elements *= n;
        }
        if (elements * dtype.ItemSize != data.LongLength)
            throw new PickleException($"array data holds {data.LongLength} bytes, shape [{string.Join(",", shape)}] of {dtype.Code} needs {elements * dtype.ItemSize}");
    }

    /// <summary>
    /// numpy stores a Fortran-ordered array's bytes in column-major order; this returns them in C order
    /// (a general N-d transpose numpy has no managed counterpart for here).
    /// </summary>
    private static byte[] FortranToC(long[] shape, int itemSize, byte[] data)
    {
        if (shape.Length < 2) return data;
        var result = new byte[data.Length];
        var count = data.LongLength / itemSize;
        var index = new long[shape.Length];
        for (long c = 0; c < count; c++)
        {
            long f = 0, stride = 1;
            for (var d = 0; d < shape.Length; d++) { f += index[d] * stride; stride *= shape[d]; }
            Array.Copy(data, f * itemSize, result, c * itemSize, itemSize);
            for (var d = shape.Length - 1; d >= 0 && ++index[d] == shape[d]; d--) index[d] = 0;
        }
        return result;
    }

    /// <summary>Built by <c>numpy.dtype(code, align, copy)</c>, completed by <c>__setstate__</c> with the byte order.</summary>
    internal sealed class PickledDtype(string code)
    {
        public string Code { get; } = code;
        public string ByteOrder { get; private set; } = "|";
        public char Kind => Code.Length > 0 ? Code[0] : '?';
        public int ItemSize => Code.Length > 1 && int.TryParse(Code.AsSpan(1), out var n) && n is > 0 and <= 16 ? n : 0;

        // Called by Razorvine (by name, through reflection) for the BUILD opcode.
        public void __setstate__(object[] state)
        {
            if (state.Length < 2 || state[1] is not string order || order is not ("<" or ">" or "|" or "="))
                throw new PickleException("numpy dtype state has no byte order");
            ByteOrder = order;
        }

        public NumpyDtype ToDtype()
        {
            if (Kind is not ('u' or 'i' or 'b' or 'f') || ItemSize == 0)
                throw new PickleException($"numpy dtype '{Code}' is not a number type this reader supports");
            // '=' is the writer's native order; every platform numpy pickles come from in practice is little-endian.
            return new NumpyDtype(Kind, ItemSize, ByteOrder == ">");
        }
    }

    private sealed class DtypeConstructor : IObjectConstructor
    {
        public object construct(object[] args) => args.Length >= 1
            ? new PickledDtype(args[0] switch
            {
                string s => s,
                byte[] b => System.Text.Encoding.Latin1.GetString(b),
                _ => throw new PickleException("numpy dtype code is not a string"),
            })
            : throw new PickleException("numpy dtype without a type code");
    }

    /// <summary>Built by <c>_reconstruct(ndarray, (0,), b'b')</c>, filled by <c>__setstate__((version, shape, dtype, is_fortran, data))</c>.</summary>
    internal sealed class PickledNdarray
    {
        private NumpyArray? _array;

        // Called by Razorvine (by name, through reflection) for the BUILD opcode.
        public void __setstate__(object[] state)
        {
            // numpy writes (version, shape, dtype, is_fortran, data); very old pickles omit the version.
            var offset = state.Length == 5 ? 1 : state.Length == 4 ? 0 : throw new PickleException($"numpy array state has {state.Length} items, expected 4 or 5");
            var shape = Shape(state[offset]);
            if (state[offset + 1] is not PickledDtype dtype) throw new PickleException("numpy array state has no dtype");
            var fortran = state[offset + 2] switch
            {
                bool b => b,
                int i => i != 0,
                _ => throw new PickleException("numpy array state has no is_fortran flag"),
            };
            if (dtype.Kind == 'O') throw new PickleException("numpy arrays of Python objects are not supported");
            var numpyDtype = dtype.ToDtype();
            var data = RawBytes(state[offset + 3], "numpy array data");
            CheckSize(shape, dtype, data);
            _array = new NumpyArray(shape, numpyDtype, fortran ? FortranToC(shape, dtype.ItemSize, data) : data);
        }

        public NumpyArray ToArray(string path, string key) =>
            _array ?? throw new DataFileException(path, $"'{key}' is a numpy array without its state (no shape or data)");
    }

    private sealed class NdarrayConstructor : IObjectConstructor
    {
        public object construct(object[] args) => new PickledNdarray();
    }

    /// <summary>Protocol 5: <c>_frombuffer(buffer, dtype, shape, order)</c>.</summary>
    private sealed class FromBufferConstructor : IObjectConstructor
    {
        public object construct(object[] args)
        {
            if (args.Length != 4 || args[1] is not PickledDtype dtype || args[3] is not string order)
                throw new PickleException("numpy _frombuffer needs (buffer, dtype, shape, order)");
            var array = new PickledNdarray();
            array.__setstate__([1, args[2], dtype, order == "F", args[0]]);
            return array;
        }
    }

    /// <summary>A numpy scalar, <c>scalar(dtype, bytes)</c>: returned as a long (integers) for label lists.</summary>
    private sealed class ScalarConstructor : IObjectConstructor
    {
        public object construct(object[] args)
        {
            if (args.Length != 2 || args[0] is not PickledDtype dtype) throw new PickleException("numpy scalar needs (dtype, bytes)");
            var data = RawBytes(args[1], "numpy scalar");
            var numpyDtype = dtype.ToDtype();
            if (data.Length != numpyDtype.ItemSize) throw new PickleException($"numpy scalar of {dtype.Code} has {data.Length} bytes");
            return new NumpyArray([], numpyDtype, data).IntegerAt(0) is { } value
                ? value
                : throw new PickleException($"numpy scalar of {dtype.Code} is not a whole number");
        }
    }
}
