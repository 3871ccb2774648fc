using Retain.Curriculum;
using static TorchSharp.torch;

namespace Retain.Tests;

public sealed class CurriculumTests
{
    private const int Side = 32;

    /// <summary>Asserts |actual - expected| &lt;= 1e-4 · |expected|.</summary>
    private static void AssertRelative(double expected, double actual, double tolerance = 1e-4) =>
        Assert.True(Math.Abs(actual - expected) <= tolerance * Math.Abs(expected), $"expected {expected}, got {actual}");

    /// <summary>32 x 32 bytes: 0 in columns 0..15, 255 in columns 16..31.</summary>
    private static byte[] HalfDarkHalfBright()
    {
        var u = new byte[Side * Side];
        for (var i = 0; i < Side; i++)
            for (var j = Side / 2; j < Side; j++) u[i * Side + j] = 255;
        return u;
    }

    /// <summary>[1, 3, 32, 32]: channels sin(j/3), cos(i/4), (i+j)/62 - 0.5 with i the row and j the column.</summary>
    private static Tensor SinCosRamp()
    {
        var values = new float[3 * Side * Side];
        for (var i = 0; i < Side; i++)
            for (var j = 0; j < Side; j++)
            {
                var p = i * Side + j;
                values[p] = (float)Math.Sin(j / 3.0);
                values[Side * Side + p] = (float)Math.Cos(i / 4.0);
                values[2 * Side * Side + p] = (float)((i + j) / 62.0 - 0.5);
            }
        return tensor(values, [1, 3, Side, Side]);
    }

    private static float[] ChannelMean(Tensor x)
    {
        using var mean = x.mean([1]);
        return mean.data<float>().ToArray();
    }

    // ---- complexity: scikit-image 0.19 reference vectors ----

    [Fact]
    public void EntropyMapOfHalfBrightImageMatchesScikitImage()
    {
        var map = EntropyComplexity.EntropyMap(HalfDarkHalfBright(), Side, Side);
        // Row 0, column 10: the disk reaches column 15 at most, all dark.
        Assert.Equal(0f, map[10]);
        // Row 0, column 11: population 46 (disk rows 0..5 hold 11+9+9+9+7+1), one bright pixel at (0, 16).
        AssertRelative(0.151097, map[11]);
    }

    [Fact]
    public void RawComplexityOfHalfBrightImageMatchesScikitImage()
    {
        AssertRelative(0.161828, EntropyComplexity.RawComplexity(HalfDarkHalfBright(), Side, Side));
    }

    [Fact]
    public void SinCosRampGivesScikitImageBytesAndComplexity()
    {
        using var x = SinCosRamp();
        var gray = ChannelMean(x);
        var u = EntropyComplexity.ToUbyte(gray);
        // u[0,0]: float32 (0 + 1 - 0.5) / 3 = 0.16666667, times 255 = 42.5 exactly, and rint rounds half to even: 42.
        Assert.Equal(new byte[] { 42, 72, 98, 118, 131, 134, 128, 114 }, u[..8]);
        AssertRelative(18.29224, EntropyComplexity.RawComplexity(gray, Side, Side));
    }

    // ---- complexity: hand-computed cases ----

    [Fact]
    public void EntropyOfThreeByThreeImageWithOneOddPixel()
    {
        // The disk covers the whole 3 x 3 image from every pixel (farthest offset (2, 2): 8 <= 25), so each pixel
        // sees n = 9 with counts {8, 1}: H = log2 9 - (8 log2 8 + 1 log2 1) / 9 = 3.169925001 - 24/9 = 0.5032583348.
        byte[] u = [7, 7, 7, 7, 200, 7, 7, 7, 7];
        var map = EntropyComplexity.EntropyMap(u, 3, 3);
        Assert.All(map, h => AssertRelative(0.5032583348, h, 1e-6));
        // Every pixel has the same H, so the mean of H² is 0.5032583348² = 0.2532689515.
        AssertRelative(0.2532689515, EntropyComplexity.RawComplexity(u, 3, 3), 1e-6);
    }

    [Fact]
    public void EntropyOfOneRowShrinksTheDiskAtTheBorders()
    {
        // One row, so the disk is columns j-5..j+5 clipped to 0..6; the single bright pixel is column 6.
        //   j = 0:      columns 0..5, all dark               H = 0
        //   j = 1..5:   columns 0..6, n = 7, counts {6, 1}   H = log2 7 - 6 log2 6 / 7 = 0.5916727786
        //   j = 6:      columns 1..6, n = 6, counts {5, 1}   H = log2 6 - 5 log2 5 / 6 = 0.6500224216
        byte[] u = [0, 0, 0, 0, 0, 0, 255];
        var map = EntropyComplexity.EntropyMap(u, 1, 7);
        Assert.Equal(0f, map[0]);
        for (var j = 1; j <= 5; j++) AssertRelative(0.5916727786, map[j], 1e-6);
        AssertRelative(0.6500224216, map[6], 1e-6);
        // (5 · 0.5916727786² + 0.6500224216²) / 7 = 0.3104160762
        AssertRelative(0.3104160762, EntropyComplexity.RawComplexity(u, 1, 7), 1e-6);
    }

    [Fact]
    public void UniformImageHasZeroEntropyEverywhere()
    {
        var map = EntropyComplexity.EntropyMap(Enumerable.Repeat((byte)90, 12 * 9).ToArray(), 12, 9);
        Assert.All(map, h => Assert.Equal(0f, h));
    }

    [Fact]
    public void ToUbyteRescalesLargeImagesClampsAndClips()
    {
        // Largest value 2 <= 10: no rescaling; 2 clamps to 1 -> 255, -0.5 -> rint(-127.5) = -128 -> clipped to 0.
        Assert.Equal(new byte[] { 255, 0, 51, 0 }, EntropyComplexity.ToUbyte([2f, -0.5f, 0.2f, 0f]));
        // Largest value 255 > 10: divided by 255 first, so 255 -> 255, 51 -> 0.2 -> 51, 12.75 -> 0.05 -> rint(12.75) = 13.
        Assert.Equal(new byte[] { 255, 51, 13, 0 }, EntropyComplexity.ToUbyte([255f, 51f, 12.75f, -300f]));
    }

    // ---- normalisation over a set ----

    [Fact]
    public void NormaliseMapsMinimumToZeroAndMaximumToOne()
    {
        // min 2, max 6: (r - 2) / 4.
        Assert.Equal(new[] { 0.5f, 0f, 1f, 0.25f }, EntropyComplexity.Normalise([4f, 2f, 6f, 3f]));
    }

    [Fact]
    public void NormaliseOfEqualValuesIsAllZero()
    {
        Assert.Equal(new[] { 0f, 0f, 0f }, EntropyComplexity.Normalise([0.7f, 0.7f, 0.7f]));
        Assert.Empty(EntropyComplexity.Normalise([]));
    }

    [Fact]
    public void NormaliseFloorsTheRangeAtOneTenThousandth()
    {
        // Range 2^-15 = 3.0517578e-5 < 1e-4, so the larger value becomes 2^-15 / 1e-4 = 0.30517578, not 1.
        var normalised = EntropyComplexity.Normalise([2f, 2f + 1f / 32768]);
        Assert.Equal(0f, normalised[0]);
        AssertRelative(0.30517578, normalised[1], 1e-6);
    }

    [Fact]
    public void ComputeNormalisesTheSetsRawComplexities()
    {
        // Image 0 constant (raw 0), image 1 the half-bright image in 0..255 floats (rescaled by /255 to 0 and 1,
        // raw 0.161828), image 2 the sin/cos ramp (raw 18.29224): normalised 0, 0.161828 / 18.29224 = 0.0088469, 1.
        var pixels = new float[3 * 3 * Side * Side];
        Array.Fill(pixels, -0.4f, 0, 3 * Side * Side);
        var bright = HalfDarkHalfBright();
        for (var c = 0; c < 3; c++)
            for (var p = 0; p < Side * Side; p++) pixels[(3 + c) * Side * Side + p] = bright[p];
        using (var ramp = SinCosRamp()) ramp.data<float>().ToArray().CopyTo(pixels, 6 * Side * Side);
        using var x = tensor(pixels, [3, 3, Side, Side]);

        var complexities = EntropyComplexity.Compute(x);

        Assert.Equal(3, complexities.Length);
        Assert.Equal(0f, complexities[0]);
        AssertRelative(0.161828 / 18.29224, complexities[1]);
        Assert.Equal(1f, complexities[2]);
    }

    [Fact]
    public void ComputeRejectsTensorsThatAreNotImageSets()
    {
        using var flat = zeros(4, 1024);
        Assert.Throws<ArgumentException>(() => EntropyComplexity.Compute(flat));
    }

    // ---- schedules ----

    [Theory]
    [InlineData("linear:100:0.2", 0, 0.2)]
    [InlineData("linear:100:0.2", 50, 0.6)]     // 0.2 + 0.8 · 50/100
    [InlineData("linear:100:0.2", 100, 1.0)]
    [InlineData("linear:100:0.2", 150, 1.0)]    // 0.2 + 0.8 · 1.5 = 1.4, capped
    [InlineData("linear:100", 25, 0.4)]         // default start 0.2: 0.2 + 0.8 · 0.25
    [InlineData("exp:10:0.2:3", 5, 0.3)]        // 0.2 + 0.8 · 5³/10³ = 0.2 + 0.8 · 0.125
    [InlineData("exp:10:0.5", 5, 0.625)]        // default power 2: 0.5 + 0.5 · 25/100
    [InlineData("log:10:0.2", 0, 0.2)]          // ln(1)/ln(11) = 0, where the seed's ln(0) gave -inf
    [InlineData("log:10:0.2", 10, 1.0)]         // ln(11)/ln(11) = 1
    [InlineData("log:3:0", 1, 0.5)]             // ln 2 / ln 4 = 1/2
    public void ThresholdFollowsTheSchedule(string option, int epoch, double expected)
    {
        var schedule = CurriculumSchedule.Parse(option)!;
        Assert.Equal(expected, schedule.Threshold(epoch), 12);
    }

    [Fact]
    public void ParseReadsFieldsAndDefaults()
    {
        var schedule = CurriculumSchedule.Parse("exp:10:0.3:3")!;
        Assert.Equal(CurriculumType.Exp, schedule.Type);
        Assert.Equal(10, schedule.Epochs);
        Assert.Equal(0.3, schedule.Start);
        Assert.Equal(new[] { 3.0 }, schedule.Parameters);
        Assert.Equal(3.0, schedule.ExpPower);

        var defaults = CurriculumSchedule.Parse("linear:100")!;
        Assert.Equal(CurriculumSchedule.DefaultStart, defaults.Start);
        Assert.Empty(defaults.Parameters);
    }

    [Theory]
    [InlineData("linear:100:0.2", "linear:100:0.2")]
    [InlineData("linear:100", "linear:100:0.2")]
    [InlineData(" EXP:10:0.25:3 ", "exp:10:0.25:3")]
    [InlineData("log:7:1", "log:7:1")]
    public void ToStringGivesTheCanonicalOption(string option, string expected)
    {
        var text = CurriculumSchedule.Parse(option)!.ToString();
        Assert.Equal(expected, text);
        Assert.Equal(expected, CurriculumSchedule.Parse(text)!.ToString());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void EmptyOptionMeansNoCurriculum(string? option)
    {
        Assert.Null(CurriculumSchedule.Parse(option));
    }

    [Theory]
    [InlineData("linear")]            // fewer than two fields
    [InlineData("cosine:100:0.2")]    // unknown type
    [InlineData("linear:ten:0.2")]    // non-numeric epochs
    [InlineData("linear:2.5:0.2")]    // epochs not whole
    [InlineData("linear:0:0.2")]      // epochs < 1
    [InlineData("linear:100:1.5")]    // start > 1
    [InlineData("linear:100:-0.1")]   // start < 0
    [InlineData("linear:100:NaN")]    // start not a number
    [InlineData("linear:100:")]       // start empty
    [InlineData("exp:10:0.2:x")]      // non-numeric parameter
    [InlineData("exp:10:0.2:0")]      // exp power must be positive
    public void ParseRejectsBadOptions(string option)
    {
        var error = Assert.Throws<RetainException>(() => CurriculumSchedule.Parse(option));
        Assert.StartsWith("--curriculum:", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void SelectedSamplesAreThoseAtOrBelowTheThreshold()
    {
        var schedule = CurriculumSchedule.Parse("linear:4:0.2")!;
        float[] complexities = [0.9f, 0f, 0.4f, 1f, 0.2f, 0.6f];
        Assert.Equal(new[] { 1, 4 }, schedule.SelectedSamples(complexities, 0));          // threshold 0.2
        Assert.Equal(new[] { 1, 2, 4 }, schedule.SelectedSamples(complexities, 1));       // 0.4
        // Epoch 2: 0.2 + 0.8 · 0.5 = 0.6000000000000001 in double; compared in float32 as 0.6f, so 0.6f is kept.
        Assert.Equal(new[] { 1, 2, 4, 5 }, schedule.SelectedSamples(complexities, 2));
        Assert.Equal(Enumerable.Range(0, 6), schedule.SelectedSamples(complexities, 4));  // 1: all
    }
}
