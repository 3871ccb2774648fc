using Retain.Training;

namespace Retain.Tests;

public class LearningRateScheduleTests
{
    private static readonly TrainingOptions Options = new()
    {
        LearningRate = 0.3, LearningRateFactor = 3, Patience = 2, MinLearningRate = 0.05,
    };

    [Fact]
    public void DividesAfterPatienceEpochsWithoutImprovementAndStopsBelowTheMinimum()
    {
        var schedule = new LearningRateSchedule(Options);
        Assert.Equal((true, false), schedule.EndOfEpoch(0, 1.0));
        Assert.Equal((false, false), schedule.EndOfEpoch(1, 1.1));
        Assert.Equal(0.3, schedule.LearningRate);
        Assert.Equal((false, false), schedule.EndOfEpoch(2, 1.2)); // second epoch without improvement: 0.3 / 3
        Assert.Equal(0.1, schedule.LearningRate, 12);
        Assert.Equal((false, false), schedule.EndOfEpoch(3, 1.2));
        Assert.Equal((false, true), schedule.EndOfEpoch(4, 1.2)); // 0.1 / 3 < 0.05: stop
        Assert.Equal(1.0, schedule.BestLoss);
    }

    [Fact]
    public void ImprovementResetsPatience()
    {
        var schedule = new LearningRateSchedule(Options);
        schedule.EndOfEpoch(0, 1.0);
        schedule.EndOfEpoch(1, 1.5);
        Assert.Equal((true, false), schedule.EndOfEpoch(2, 0.9));
        schedule.EndOfEpoch(3, 1.5);
        Assert.Equal(0.3, schedule.LearningRate);
        Assert.Equal(1, schedule.PatienceLeft);
    }

    [Fact]
    public void WarmupTrainsAtADividedRateThenRestoresTheBaseRateAndDoesNotDecay()
    {
        var schedule = new LearningRateSchedule(Options with { Warmup = new Warmup(3, 10) });
        Assert.Equal(0.03, schedule.LearningRate, 12);
        schedule.EndOfEpoch(0, 1.0);
        schedule.EndOfEpoch(1, 2.0);
        Assert.Equal(0.03, schedule.LearningRate, 12);
        schedule.EndOfEpoch(2, 2.0); // last warm-up epoch: no patience used, base rate restored
        Assert.Equal(0.3, schedule.LearningRate, 12);
        Assert.Equal(2, schedule.PatienceLeft);
    }

    [Fact]
    public void ZeroWarmupEpochsMeansNoWarmup() =>
        Assert.Equal(0.3, new LearningRateSchedule(Options with { Warmup = new Warmup(0, 750) }).LearningRate);

    [Fact]
    public void NoDecayWhileTheCurriculumThresholdIsBelowOne()
    {
        var schedule = new LearningRateSchedule(Options);
        schedule.EndOfEpoch(0, 1.0);
        for (var e = 1; e < 10; e++) schedule.EndOfEpoch(e, 2.0, curriculumThreshold: 0.5);
        Assert.Equal(0.3, schedule.LearningRate);
    }

    [Theory]
    [InlineData("10,750", 10, 750)]
    [InlineData("[20,1000]", 20, 1000)]
    public void ParsesWarmup(string text, int epochs, double divisor) =>
        Assert.Equal(new Warmup(epochs, divisor), Warmup.Parse(text));

    [Fact]
    public void BadWarmupNamesTheOption() =>
        Assert.StartsWith("--warmup", Assert.Throws<RetainException>(() => Warmup.Parse("ten")).Message);
}
