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

    /// <summary>Per-channel mean and standard deviation of the images scaled to [0,1] (normalisation computed from data).</summary>
    public (float[] Mean, float[] Std) ChannelMeanAndStd()
    {
        var sum = new double[Channels];
        var squares = new double[Channels];
        var plane = Height * Width;
        for (long i = 0; i < Pixels.LongLength; i++)
        {
            var c = (int)(i / plane % Channels);
            var v = Pixels[i] / 255.0;
            sum[c] += v;
            squares[c] += v * v;
        }
        var n = (double)Count * plane;
        var mean = sum.Select(s => s / n).ToArray();
        return (mean.Select(m => (float)m).ToArray(),
                squares.Select((q, c) => (float)Math.Sqrt(Math.Max(q / n - mean[c] * mean[c], 1e-12))).ToArray());
    }

    /// <summary>pixel/255 then <c>(v - mean_c) / std_c</c> per channel, as torchvision's ToTensor + Normalize.</summary>
    public Split ToNormalisedSplit(float[] mean, float[] std)
    {
        if (mean.Length != Channels || std.Length != Channels)
            throw new ArgumentException($"normalisation needs {Channels} means and stds");
        var x = tensor(Pixels, ScalarType.Byte).reshape(Count, Channels, Height, Width);
        using var scaled = x.to_type(ScalarType.Float32).div_(255f);
        x.Dispose();
        using var m = tensor(mean).reshape(1, Channels, 1, 1);
        using var s = tensor(std).reshape(1, Channels, 1, 1);
        var normalised = scaled.sub(m).div_(s);
        return new Split(normalised, tensor(Labels.Select(l => (long)l).ToArray()));
    }
}
