using TorchSharp;
using static TorchSharp.torch;

namespace Retain.Data;

/// <summary>
/// Images as bytes in channel-major order (N x C x H x W) with one label each, before normalisation.
/// </summary>
public sealed record ImageSet(byte[] Pixels, byte[] Labels, int Channels, int Height, int Width)
{
    public int Count => Labels.Length;
    public int ImageBytes => Channels * Height * Width;

    /// <summary>The images whose label satisfies <paramref name="keep"/>, in file order, relabelled by <paramref name="relabel"/>.</summary>
    public ImageSet Where(Func<byte, bool> keep, Func<byte, byte> relabel)
    {
        var indices = Enumerable.Range(0, Count).Where(i => keep(Labels[i])).ToArray();
        var pixels = new byte[indices.Length * ImageBytes];
        for (var k = 0; k < indices.Length; k++)
            Array.Copy(Pixels, (long)indices[k] * ImageBytes, pixels, (long)k * ImageBytes, ImageBytes);
        return this with { Pixels = pixels, Labels = indices.Select(i => relabel(Labels[i])).ToArray() };
    }

    /// <summary>The images with <paramref name="border"/> black pixels added on every side (28x28 -> 32x32 for 2).</summary>
    public ImageSet Pad(int border)
    {
        var (h, w) = (Height + 2 * border, Width + 2 * border);
        var pixels = new byte[(long)Count * Channels * h * w];
        for (long plane = 0; plane < (long)Count * Channels; plane++)
            for (var row = 0; row < Height; row++)
                Array.Copy(Pixels, (plane * Height + row) * Width, pixels, (plane * h + row + border) * w + border, Width);
        return this with { Pixels = pixels, Height = h, Width = w };
    }

    /// <summary>Per-channel mean and standard deviation of the images scaled to [0,1] (normalisation computed from data).</summary>
    public (float[] Mean, float[] Std) ChannelMeanAndStd() => ChannelMeanAndStd([this]);

    /// <summary>The same over several sets of the same channel count, as if they were one.</summary>
    public static (float[] Mean, float[] Std) ChannelMeanAndStd(IReadOnlyList<ImageSet> sets)
    {
        var channels = sets[0].Channels;
        var sum = new double[channels];
        var squares = new double[channels];
        double n = 0;
        foreach (var set in sets)
        {
            var plane = set.Height * set.Width;
            for (long i = 0; i < set.Pixels.LongLength; i++)
            {
                var c = (int)(i / plane % channels);
                var v = set.Pixels[i] / 255.0;
                sum[c] += v;
                squares[c] += v * v;
            }
            n += (double)set.Count * plane;
        }
        var mean = sum.Select(s => s / n).ToArray();
        return (mean.Select(m => (float)m).ToArray(),
                squares.Select((q, c) => (float)Math.Sqrt(Math.Max(q / n - mean[c] * mean[c], 1e-12))).ToArray());
    }

    /// <summary>pixel/255 then <c>(v - mean_c) / std_c</c> per channel, as torchvision's ToTensor + Normalize.</summary>
    public Split ToNormalisedSplit(float[] mean, float[] std)
    {
        if (mean.Length != Channels || std.Length != Channels)
            throw new ArgumentException($"normalisation needs {Channels} means and stds");
        return Split.Built(() =>
        {
            var pixels = tensor(Pixels, ScalarType.Byte);
            var scaled = pixels.reshape(Count, Channels, Height, Width).to_type(ScalarType.Float32);
            pixels.Dispose();   // the bytes go before the arithmetic, as the split's size in floats comes on top
            // A Scalar of our own, referenced until the call returns: TorchSharp's implicit one is not (see TorchRandom).
            using var range = 255f.ToScalar();
            scaled.div_(range).sub_(tensor(mean).reshape(1, Channels, 1, 1)).div_(tensor(std).reshape(1, Channels, 1, 1));
            return new Split(scaled, tensor(Labels.Select(l => (long)l).ToArray()));
        });
    }
}
