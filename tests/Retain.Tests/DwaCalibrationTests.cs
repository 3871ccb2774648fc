using Retain.Experiments;
using Retain.Training;

namespace Retain.Tests;

/// <summary>The comparison of DWA's terms in both formulations (<c>retain dwa-terms</c>) on a small subset of mnist2.</summary>
public class DwaCalibrationTests
{
    [Fact]
    public void BothFormsAreMeasuredOnTheSameBatchesAndTheSparsityFactorIsTheBatchSize()
    {
        var config = new RunConfig
        {
            Experiment = "mnist2", Approach = "dwa", DataDir = TestSupport.DataDir, Output = "", Limit = 150,
            Parameters = new Dictionary<string, string> { ["gate"] = "sigmoid" },
        };
        var r = DwaCalibration.Measure(config, trainEpochs: 0, batches: 1, IgnoredEvents.Instance);
        Assert.Equal((1, (r.FisherSamples + 19) / 20), (r.Batches, r.FisherBatches));
        Assert.True(r.Samples is > 0 and <= 32, $"{r.Samples} samples");
        var terms = r.Terms.ToDictionary(t => t.Term);

        // Sigmoid masks start near 0.5, so every sample is above μ = 0.2 in both measures (used mean|M|, unused
        // 1 - mean|M|): the seed's batch sum of -mean|M| has exactly -B times the corrected batch mean's gradient.
        Assert.InRange(r.MaskUsage, 0.3, 0.7);
        Assert.Equal(r.Samples, terms["sparsity"].GradientFactor, 3);
        // The seed's Fisher squares running sums of gradients: larger than the per-batch one.
        Assert.True(r.SeedFisherMean > r.CorrectedFisherMean && terms["att"].GradientFactor > 1, $"{r.SeedFisherMean} vs {r.CorrectedFisherMean}");
        Assert.All(r.Terms, t => Assert.True(t.SeedValue > 0 && t.CorrectedValue > 0 && t.SeedGradient > 0 && t.CorrectedGradient > 0, t.ToString()));
        Assert.Equal(500 * terms["sparsity"].GradientFactor, terms["sparsity"].RescaledWeight, 6);
    }
}
