using Retain.Approaches;
using Retain.Experiments;
using Retain.Training;
using static TorchSharp.torch;

namespace Retain.Tests;

/// <summary>
/// The replay approaches' core rules against hand-computed values (reservoir sampling, A-GEM's projection, DER's
/// logit distance, DER++'s label term), their memory, and their runs: what the record says of the memory, and that
/// replay keeps earlier classes in class-IL where fine-tuning loses them.
/// </summary>
public class ReplayTests(BaselinesSmallMnist mnist) : TempFolderTests, IClassFixture<BaselinesSmallMnist>
{
    [Fact]
    public void TheReservoirKeepsTheFirstSamplesThenReplacesBySlotDrawn()
    {
        // Capacity 2. Samples 0 and 1 fill the slots without a draw; sample n (n >= 2) draws j from 0..n and replaces
        // slot j when j < 2. Scripted draws: sample 2 draws 1 (replaces slot 1), sample 3 draws 3 (dropped), sample 4
        // draws 0 (replaces slot 0).
        var draws = new Queue<long>([1, 3, 0]);
        var asked = new List<long>();
        long Draw(long n) { asked.Add(n); return draws.Dequeue(); }
        var slots = Enumerable.Range(0, 5).Select(n => ReservoirBuffer.Slot(n, 2, Draw)).ToArray();
        Assert.Equal([0, 1, 1, -1, 0], slots);
        Assert.Equal([2L, 3, 4], asked);   // each draw is uniform over 0..n, n the samples offered before
    }

    [Fact]
    public void EverySampleOfferedIsHeldWithTheSameProbability()
    {
        // 20 samples offered to a buffer of 5, in batches of 4, 2000 times with different generators: each sample
        // should be held in 5/20 = 25% of the buffers (binomial standard deviation 1%; allowed ±4%).
        const int offered = 20, capacity = 5, trials = 2000;
        var held = new int[offered];
        for (var trial = 0; trial < trials; trial++)
        {
            using var buffer = new ReservoirBuffer(capacity, 0, CPU, seed: trial);
            for (var start = 0; start < offered; start += 4)
            {
                using var ids = arange(start, start + 4, dtype: ScalarType.Int64);
                buffer.Add(ids.to_type(ScalarType.Float32).unsqueeze(1), ids, zeros(4, ScalarType.Int64));
            }
            using var drawn = buffer.Draw(capacity)!.Y;
            foreach (var id in drawn.data<long>()) held[id]++;
            Assert.Equal(capacity, buffer.Count);
            Assert.Equal(offered, buffer.Offered);
        }
        Assert.All(held, count => Assert.InRange((double)count / trials, 0.21, 0.29));
    }

    [Fact]
    public void ABufferDrawsWithoutReplacementAndResumesItsDraws()
    {
        using var buffer = new ReservoirBuffer(8, 3, CPU, seed: 1);
        var inputs = arange(6, dtype: ScalarType.Float32).unsqueeze(1);
        buffer.Add(inputs, arange(6, dtype: ScalarType.Int64), full(6, 2, ScalarType.Int64), ones(6, 2), outputs: 2);
        var drawn = buffer.Draw(4)!;
        Assert.Equal(4, drawn.Y.data<long>().Distinct().Count());
        // What was stored comes back with its sample: input k has label k, task 2, logits (1, 1) padded to the width 3.
        Assert.Equal(drawn.Y.data<long>().Select(y => (float)y), drawn.X.squeeze(1).data<float>());
        Assert.All(drawn.Tasks.data<long>(), t => Assert.Equal(2, t));
        Assert.Equal([1f, 1, 0], drawn.Logits![0].data<float>());
        Assert.All(drawn.Outputs!.data<long>(), n => Assert.Equal(2, n));
        Assert.Equal(6, buffer.Draw(100)!.Y.shape[0]);   // never more than it holds
        Assert.Equal([0L, 0, 6], buffer.SamplesPerTask(3));
        Assert.Equal(8 * (4 + 8 + 8 + 3 * 4 + 8), buffer.Bytes);   // inputs, labels, tasks, logits, output counts

        using var state = new StateDict();
        buffer.Save(state);
        using var copy = new ReservoirBuffer(8, 3, CPU, seed: 99);
        copy.Load(state);
        Assert.Equal(buffer.Draw(5)!.Y.data<long>(), copy.Draw(5)!.Y.data<long>());
    }

    [Fact]
    public void AgemProjectsAConflictingGradientOntoTheMemorysHalfSpace()
    {
        // g = (1, -1), g_ref = (0, 1): gᵀg_ref = -1 < 0, so g̃ = g - (-1 / 1) g_ref = (1, 0), orthogonal to g_ref.
        var projected = Agem.Project(tensor(new[] { 1f, -1 }), tensor(new[] { 0f, 1 }));
        Assert.Equal([1f, 0], projected.data<float>());
        // g = (2, 1), g_ref = (1, 2): gᵀg_ref = 4, no conflict, g unchanged.
        Assert.Equal([2f, 1], Agem.Project(tensor(new[] { 2f, 1 }), tensor(new[] { 1f, 2 })).data<float>());
        // g = (3, -4), g_ref = (1, 1): gᵀg_ref = -1, g_refᵀg_ref = 2, g̃ = (3.5, -3.5).
        Assert.Equal([3.5f, -3.5f], Agem.Project(tensor(new[] { 3f, -4 }), tensor(new[] { 1f, 1 })).data<float>());
    }

    [Fact]
    public void DerComparesEachReplayedSampleOnTheOutputsItWasStoredWith()
    {
        // Row 0 was stored with 2 outputs, row 1 with 1 (a narrower head: its second current logit is -inf, not compared).
        var current = tensor(new float[,] { { 1, 2 }, { 3, float.NegativeInfinity } }).requires_grad_();
        var stored = tensor(new float[,] { { 0, 2, 9 }, { 1, 5, 9 } });
        var outputs = tensor(new long[] { 2, 1 });
        // Squared differences compared: (1-0)², (2-2)², (3-1)² = 1, 0, 4 over 3 outputs: 5/3.
        var distance = Der.LogitDistance(current, stored, outputs);
        Assert.Equal(5.0 / 3, distance.item<float>(), 5);
        distance.backward();
        // d/dz = 2 (z - z_stored) / 3 where compared, 0 (not NaN) elsewhere.
        Assert.Equal([2f / 3, 0, 4f / 3, 0], current.grad!.flatten().data<float>());

        // DER's objective: CE + α · distance. CE of logits (0, ln 3) at label 1 is -ln(3/4).
        var logits = tensor(new float[,] { { 0, MathF.Log(3) } });
        var labels = tensor(new long[] { 1 });
        var dark = new DarkReplay(tensor(new float[,] { { 1, 2 }, { 3, 4 } }), tensor(new float[,] { { 0, 2 }, { 3, 2 } }), tensor(new long[] { 2, 2 }));
        // (1 + 0 + 0 + 4) / 4 = 1.25.
        Assert.Equal(-Math.Log(0.75) + 0.5 * 1.25, Der.Objective(logits, labels, dark, alpha: 0.5).item<float>(), 5);
        Assert.Equal(-Math.Log(0.75), Der.Objective(logits, labels, null, alpha: 0.5).item<float>(), 5);   // memory still empty
    }

    [Fact]
    public void DerPlusPlusAddsTheLabelledReplayToDer()
    {
        var logits = tensor(new float[,] { { 0, MathF.Log(3) } });
        var labels = tensor(new long[] { 1 });
        var dark = new DarkReplay(tensor(new float[,] { { 1, 2 } }), tensor(new float[,] { { 0, 2 } }), tensor(new long[] { 2 }));
        // The second replayed batch: logits (ln 3, 0, 0) at its stored label 0: CE = -ln(3/5).
        var labelled = (tensor(new float[,] { { MathF.Log(3), 0, 0 } }), tensor(new long[] { 0 }));
        var expected = -Math.Log(0.75) + 0.3 * 0.5 + 2 * -Math.Log(0.6);
        Assert.Equal(expected, DerPlusPlus.Objective(logits, labels, dark, labelled, alpha: 0.3, beta: 2).item<float>(), 5);
        Assert.Equal(Der.Objective(logits, labels, dark, 0.3).item<float>(), DerPlusPlus.Objective(logits, labels, dark, labelled, 0.3, beta: 0).item<float>());
    }

    [Theory]
    [InlineData("er")]
    [InlineData("agem")]
    [InlineData("der")]
    [InlineData("der++")]
    public void TheRecordShowsWhatTheMemoryHolds(string approach)
    {
        var record = ExperimentRunner.Run(new RunConfig
        {
            Experiment = "mnist2", Approach = approach, DataDir = mnist.DataDir, Output = Path.Combine(Folder, approach + ".txt"),
            Epochs = 1, BatchSize = 16, Limit = 60, Evaluation = EvaluationSetting.Aware,
            Parameters = new Dictionary<string, string> { ["buffer"] = "40" },
        });
        var memory = record.Memory!;
        Assert.Equal(40, memory.Capacity);
        Assert.Equal(40, memory.Samples);
        Assert.Equal(40, memory.SamplesPerTask.Sum());
        // er and der offer every training batch of the one epoch (60 samples a task), agem each task's samples after it.
        Assert.Equal(2 * 60, memory.Offered);
        // 784 floats an input, 8 bytes a label and a task; DER also 5 logits (mnist2's heads) and their count.
        Assert.Equal(40 * (784 * 4 + 8 + 8 + (approach.StartsWith("der", StringComparison.Ordinal) ? 5 * 4 + 8 : 0)), memory.Bytes);
        Assert.Equal("40", record.Parameters["buffer"]);
    }
}
