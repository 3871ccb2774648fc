using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Retain.Curriculum;

/// <summary>
/// The curriculum's sample complexity: the mean squared local Shannon entropy of an image, as the seed computes it
/// with scikit-image (<c>img_as_ubyte</c>, then <c>filters.rank.entropy</c> with <c>disk(5)</c>), normalised to
/// [0, 1] over a set. The seed runs a rank filter image by image; here a sliding histogram moves the disk along each
/// row (one pixel leaves and one enters per disk row) and keeps the running sum of h·log2(h), so a step costs
/// O(disk height) instead of O(disk area + grey levels), and images are processed in parallel.
/// </summary>
internal static class EntropyComplexity
{
    /// <summary>Radius of the disk neighbourhood: offsets (di, dj) with di² + dj² &lt;= 25.</summary>
    public const int DiskRadius = 5;
    /// <summary>Floor of <c>max - min</c> when normalising a set, so that equal complexities give 0, not NaN.</summary>
    public const float NormalisationFloor = 1e-4f;

    private const int GreyLevels = 256;

    /// <summary>Half-width of the disk at row offset di (index di + radius): floor(sqrt(r² - di²)).</summary>
    private static readonly int[] DiskHalfWidths = Enumerable.Range(-DiskRadius, 2 * DiskRadius + 1)
        .Select(di => (int)Math.Floor(Math.Sqrt(DiskRadius * DiskRadius - di * di)))
        .ToArray();

    /// <summary>Number of pixels in the full disk (81 for radius 5): the largest population a histogram can hold.</summary>
    public static int DiskArea { get; } = DiskHalfWidths.Sum(r => 2 * r + 1);

    /// <summary>
    /// Σ h·log2(h) is kept as an integer in units of 2^-40: integer sums are exact, so the running sum never drifts
    /// and a one-level histogram gives exactly 0; integer adds also keep the sum's dependency chain short.
    /// Each table entry is off by at most 2^-41, far below what matters.
    /// </summary>
    private const double FixedPointScale = 1L << 40;

    /// <summary>round(n·log2(n) · 2^40) for n = 0..DiskArea.</summary>
    private static readonly long[] ScaledNLog2N = Enumerable.Range(0, DiskArea + 1)
        .Select(n => n == 0 ? 0L : (long)Math.Round(n * Math.Log2(n) * FixedPointScale)).ToArray();

    /// <summary>The change of the scaled Σ h·log2(h) when a bin grows from c to c+1.</summary>
    private static readonly long[] ScaledIncrement = Enumerable.Range(0, DiskArea)
        .Select(c => ScaledNLog2N[c + 1] - ScaledNLog2N[c]).ToArray();

    /// <summary>1 / (n · 2^40) for n = 0..DiskArea (entry 0 unused).</summary>
    private static readonly double[] InverseScaledPopulation = Enumerable.Range(0, DiskArea + 1)
        .Select(n => n == 0 ? 0 : 1 / (n * FixedPointScale)).ToArray();

    /// <summary>
    /// One channel-averaged image as 8-bit grey levels: divided by 255 if its maximum exceeds 10, clamped to
    /// [-1, 1], then <c>img_as_ubyte</c>: <c>clip(rint(255·g), 0, 255)</c>, all in float32 as numpy does it.
    /// </summary>
    public static byte[] ToUbyte(ReadOnlySpan<float> gray)
    {
        var u = new byte[gray.Length];
        ToUbyte(gray, u);
        return u;
    }

    /// <inheritdoc cref="ToUbyte(ReadOnlySpan{float})"/>
    public static void ToUbyte(ReadOnlySpan<float> gray, Span<byte> u)
    {
        if (u.Length != gray.Length) throw new ArgumentException("the output must have one byte per pixel", nameof(u));
        var max = float.NegativeInfinity;
        foreach (var v in gray) max = Math.Max(max, v);
        // The seed's guard for images still in 0..255 rather than normalised.
        var scale = max > 10 ? 255f : 1f;
        for (var k = 0; k < gray.Length; k++)
        {
            var g = Math.Clamp(gray[k] / scale, -1f, 1f);
            // MathF.Round rounds half to even, as numpy's rint.
            u[k] = (byte)Math.Clamp(MathF.Round(g * 255f), 0f, 255f);
        }
    }

    /// <summary>
    /// Local Shannon entropy (base 2) of every pixel of an <paramref name="h"/> x <paramref name="w"/> 8-bit image,
    /// row-major, over the part of the radius-5 disk that lies inside the image (scikit-image's rank entropy).
    /// </summary>
    public static float[] EntropyMap(byte[] u, int h, int w)
    {
        CheckImage(u.Length, h, w);
        var map = new float[h * w];
        SlideDisk(u, h, w, new int[GreyLevels], map);
        return map;
    }

    /// <summary>Mean over the pixels of the squared local entropy of an 8-bit image.</summary>
    public static float RawComplexity(byte[] u, int h, int w)
    {
        CheckImage(u.Length, h, w);
        return (float)(SlideDisk(u, h, w, new int[GreyLevels], []) / (h * w));
    }

    /// <summary>Mean squared local entropy of one channel-averaged float image (converted by <see cref="ToUbyte(ReadOnlySpan{float})"/>).</summary>
    public static float RawComplexity(ReadOnlySpan<float> gray, int h, int w)
    {
        CheckImage(gray.Length, h, w);
        return RawComplexity(ToUbyte(gray), h, w);
    }

    /// <summary>
    /// Raw complexities of <paramref name="count"/> channel-averaged images stored one after another, each
    /// <paramref name="h"/> x <paramref name="w"/> row-major, computed in parallel.
    /// </summary>
    public static float[] RawComplexities(float[] gray, int count, int h, int w)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (h < 1 || w < 1) throw new ArgumentException($"image size must be positive (got {h} x {w})");
        if (gray.LongLength != (long)count * h * w)
            throw new ArgumentException($"expected {count} x {h} x {w} pixels (got {gray.LongLength})", nameof(gray));
        var pixels = h * w;
        var raw = new float[count];
        // One histogram and one byte image per worker, reused for all of its images.
        Parallel.For(0, count,
            () => (Histogram: new int[GreyLevels], Bytes: new byte[pixels]),
            (i, _, buffers) =>
            {
                ToUbyte(gray.AsSpan(i * pixels, pixels), buffers.Bytes);
                raw[i] = (float)(SlideDisk(buffers.Bytes, h, w, buffers.Histogram, []) / pixels);
                return buffers;
            },
            _ => { });
        return raw;
    }

    /// <summary><c>(raw - min) / max(max - min, 1e-4)</c> over the set, in float32.</summary>
    public static float[] Normalise(ReadOnlySpan<float> raw)
    {
        if (raw.IsEmpty) return [];
        float min = float.PositiveInfinity, max = float.NegativeInfinity;
        foreach (var r in raw)
        {
            min = Math.Min(min, r);
            max = Math.Max(max, r);
        }
        var range = Math.Max(max - min, NormalisationFloor);
        var normalised = new float[raw.Length];
        for (var i = 0; i < raw.Length; i++) normalised[i] = (raw[i] - min) / range;
        return normalised;
    }

    /// <summary>
    /// Normalised complexities (one per image, in [0, 1]) of a set of normalised float images <c>x[N, C, H, W]</c>.
    /// The channel mean is taken once by torch and copied out in one block; everything after works on plain arrays.
    /// </summary>
    public static float[] Compute(Tensor x)
    {
        if (x.dim() != 4) throw new ArgumentException($"expected images N x C x H x W (got shape [{string.Join(", ", x.shape)}])", nameof(x));
        var (count, h, w) = ((int)x.shape[0], (int)x.shape[2], (int)x.shape[3]);
        float[] gray;
        using (NewDisposeScope())
        {
            using var mean = x.to_type(ScalarType.Float32).mean([1]).cpu().contiguous();
            // One block copy of the raw bytes: about 4x quicker here than TorchSharp 0.107's data<float>().ToArray().
            gray = MemoryMarshal.Cast<byte, float>(mean.bytes).ToArray();
        }
        return Normalise(RawComplexities(gray, count, h, w));
    }

    /// <summary>
    /// Seconds that <see cref="Compute"/> takes on <paramref name="images"/> random single-channel images of
    /// <paramref name="side"/> x <paramref name="side"/> pixels, uniform in [-1, 1) from <c>System.Random(seed)</c>.
    /// A small untimed run first keeps JIT compilation and thread-pool start-up out of the measurement.
    /// </summary>
    public static double Benchmark(int images = 70000, int side = 32, int seed = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(images, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(side, 1);
        var random = new Random(seed);
        var pixels = new float[(long)images * side * side];
        for (long k = 0; k < pixels.LongLength; k++) pixels[k] = random.NextSingle() * 2 - 1;
        using var x = tensor(pixels, [images, 1, side, side]);
        using (var warmUp = x.narrow(0, 0, Math.Min(images, 64))) Compute(warmUp);
        var clock = Stopwatch.StartNew();
        Compute(x);
        return clock.Elapsed.TotalSeconds;
    }

    private static void CheckImage(int length, int h, int w)
    {
        if (h < 1 || w < 1) throw new ArgumentException($"image size must be positive (got {h} x {w})");
        if (length != h * w) throw new ArgumentException($"expected {h} x {w} = {h * w} pixels (got {length})");
    }

    /// <summary>
    /// Moves the disk over every pixel, row by row, and returns Σ H² over the image; writes H into
    /// <paramref name="map"/> unless it is empty. For each row the histogram is built once at column 0, then each
    /// step right removes the pixel leaving on the left of every disk row and adds the one entering on the right.
    /// </summary>
    private static double SlideDisk(ReadOnlySpan<byte> u, int h, int w, int[] counts, Span<float> map)
    {
        double sumOfSquares = 0;
        for (var i = 0; i < h; i++)
        {
            // Disk rows that lie inside the image.
            var diFirst = Math.Max(-DiskRadius, -i);
            var diLast = Math.Min(DiskRadius, h - 1 - i);
            var histogram = new SlidingHistogram(counts);

            for (var di = diFirst; di <= diLast; di++)
            {
                var row = u.Slice((i + di) * w, w);
                var last = Math.Min(DiskHalfWidths[di + DiskRadius], w - 1);
                for (var j = 0; j <= last; j++) histogram.Add(row[j]);
            }

            for (var j = 0; j < w; j++)
            {
                if (j > 0)
                {
                    for (var di = diFirst; di <= diLast; di++)
                    {
                        var row = u.Slice((i + di) * w, w);
                        var halfWidth = DiskHalfWidths[di + DiskRadius];
                        var leaving = j - 1 - halfWidth;
                        var entering = j + halfWidth;
                        if (leaving >= 0) histogram.Remove(row[leaving]);
                        if (entering < w) histogram.Add(row[entering]);
                    }
                }
                var entropy = histogram.Entropy;
                sumOfSquares += entropy * entropy;
                if (!map.IsEmpty) map[i * w + j] = (float)entropy;
            }
        }
        return sumOfSquares;
    }

    /// <summary>
    /// Grey-level counts of the pixels under the disk, with the population n and the running S = Σ h·log2(h)
    /// (scaled), so that the entropy -Σ (h/n)·log2(h/n) = (n·log2(n) - S) / n costs O(1).
    /// </summary>
    private struct SlidingHistogram
    {
        private readonly int[] _counts;
        private int _population;
        private long _scaledSumHLog2H;

        /// <summary>Starts empty, reusing (and clearing) <paramref name="counts"/>.</summary>
        public SlidingHistogram(int[] counts)
        {
            Array.Clear(counts);
            _counts = counts;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Add(byte level)
        {
            _scaledSumHLog2H += ScaledIncrement[_counts[level]++];
            _population++;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Remove(byte level)
        {
            _scaledSumHLog2H -= ScaledIncrement[--_counts[level]];
            _population--;
        }

        /// <summary>Base-2 entropy of the histogram; exactly 0 when one level holds every pixel.</summary>
        public readonly double Entropy =>
            (ScaledNLog2N[_population] - _scaledSumHLog2H) * InverseScaledPopulation[_population];
    }
}
