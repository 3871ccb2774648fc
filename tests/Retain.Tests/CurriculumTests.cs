using Retain.Curriculum;
using Xunit;

namespace Retain.Tests;

public sealed class CurriculumTests
{
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
