using System.Text.Json.Nodes;
using Retain.Approaches;
using Retain.Curriculum;
using Retain.Data;
using Retain.Evaluation;
using Retain.Networks;
using Retain.Networks.Dwa;
using Retain.Training;
using static TorchSharp.torch;

namespace Retain.Tests;

/// <summary>
/// DWA end to end on small subsets of the real MNIST experiments, with a narrow MLP variant so it stays fast: anchors,
/// Fisher, learning, introspection files; and the options as the command line binds them.
/// </summary>
public class DwaTrainingTests : TempFolderTests
{
    /// <summary>
    /// Samples of each split with every digit kept (<see cref="Split.Take"/>; test sets are stored by digit, so the first
    /// ones would be one class): enough to learn a few digits, few enough for a test.
    /// </summary>
    private static Benchmark Subset(Benchmark full, int tasks, int train = 400, int valid = 100, int test = 300)
    {
        var subsets = full.Tasks.Take(tasks)
            .Select(t => new TaskData(t.Name, t.ClassCount, t.Train.Take(train), t.Valid.Take(valid), t.Test.Take(test)))
            .ToArray();
        return new Benchmark(full.Name, subsets, full.InputSize, full.Source);
    }

    /// <summary>
    /// A narrow MLP-DWA (64 units, E = 16) with DWA's initialisation. The sparsity weight is 5, not 50: the few epochs
    /// of a test go into learning rather than into shrinking the masks.
    /// </summary>
    private static (Dwa Approach, MultiHeadNetwork Network) Build(Benchmark bench, DwaOptions? options = null, int epochs = 3)
    {
        manual_seed(0);
        options = (options ?? new DwaOptions()) with { SparsityWeight = 5 };
        var (network, masks) = DwaNetworkFactory.Create(Architectures.Mlp(bench.InputSize, hidden: 64), bench.ClassCounts,
            options.Network with { EmbeddingSize = 16, BottleneckFeatures = 16, ProcessorFeatures = 32 });
        Dwa.Initialisation.Apply(network);
        // No warm-up and a curriculum that reaches every sample by the second epoch: a few epochs must suffice.
        var training = Dwa.Defaults with { Epochs = epochs, Warmup = null, Curriculum = CurriculumSchedule.Parse("linear:2:0.5") };
        return (new Dwa(new ApproachContext(network, training, CPU, new NumpyRandomState(0)), options, masks), network);
    }

    private static double[] TrainAll(Dwa dwa, Benchmark bench)
    {
        for (var t = 0; t < bench.Tasks.Count; t++) dwa.Train(t, bench.Tasks[t], IgnoredEvents.Instance);
        return bench.Tasks.Select((task, u) => dwa.Evaluate(u, task.Test).Accuracy).ToArray();
    }

    [Fact]
    public void Mnist2LearnsBothTasksWithAnchorsPerEpochAndAFisherPerTask()
    {
        using var full = ExperimentCatalog.Load("mnist2", TestSupport.DataDir, seed: 0);
        using var bench = Subset(full, tasks: 2);
        var (dwa, network) = Build(bench);
        using var _ = dwa;
        var history = bench.Tasks.SelectMany((task, t) => dwa.Train(t, task, IgnoredEvents.Instance)).ToArray();
        var accuracy = bench.Tasks.Select((task, u) => dwa.Evaluate(u, task.Test).Accuracy).ToArray();

        // Five classes per task: chance is 20%.
        Assert.All(accuracy, (a, u) => Assert.True(a > 0.5, $"task {u} test accuracy {a:P1} after both tasks"));
        // An epoch's training loss and accuracy are its steps' means (no pass over the training set); only the terms are scalars.
        Assert.All(history, e => Assert.True(double.IsFinite(e.TrainLoss) && e.TrainLoss > 0 && e.TrainAccuracy is > 0 and <= 1, e.ToString()));
        Assert.All(history, e => Assert.Equal(["dwa/att", "dwa/mask_use", "dwa/sparsity", "dwa/triplet"], e.Scalars.Keys.Order()));

        // One anchor search per epoch and task, before the epoch; task 1 also found a task-negative anchor among task 0's.
        Assert.Equal([(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)], dwa.State.Searches.Select(s => (s.Task, s.Epoch)));
        Assert.All(dwa.State.Searches, s => Assert.True(s.AnchorSamples is > 0 and <= Dwa.AnchorSetBatches * 32));
        Assert.All(dwa.State.Searches, s => Assert.Equal(s.Task > 0, s.TaskNegativeLoss is not null));
        Assert.Equal([0, 1], dwa.State.AnchorStore.Keys);
        Assert.NotEqual(dwa.State.AnchorStore[0], dwa.State.AnchorStore[1]);
        // The negative anchor is a unit vector orthogonal to the positive one.
        var (p, n) = (tensor(dwa.State.Positive!), tensor(dwa.State.Negative!));
        Assert.Equal(1, n.norm().item<float>(), 4);
        Assert.Equal(0, (p.dot(n) / p.norm()).item<float>(), 4);

        // The merged Fisher diagonal covers exactly the masked weights.
        Assert.Equal(dwa.Masks.MaskedLayers.Select(Dwa.WeightName).Order(), dwa.State.Fisher!.Keys.Order());
        // Training terms were recorded per epoch; the attention term only exists from task 1 on.
        Assert.Equal(6, dwa.Terms.Count);
        Assert.All(dwa.Terms.Where(t => t.Task == 0), t => Assert.Equal(0, t.Attention));
        Assert.All(dwa.Terms.Where(t => t.Task == 1), t => Assert.True(t.Attention > 0 && t.Triplet >= 0));
        // Mask use is the mean |M| of sigmoid masks; the sparsity term (a sum of excesses) is never negative.
        Assert.All(dwa.Terms, t => Assert.True(t.MaskUsage is > 0 and < 1 && t.Sparsity >= 0, t.ToString()));

        // The state survives a round trip through its serialisable form.
        var copy = DwaState.FromFile(dwa.State.ToFile(), CPU);
        Assert.Equal(dwa.State.AnchorStore[1], copy.AnchorStore[1]);
        Assert.Equal(dwa.Terms, copy.Terms);
        Assert.True(copy.Fisher!["backbone.fc2.weight"].allclose(dwa.State.Fisher["backbone.fc2.weight"], rtol: 0, atol: 0));

        // Task inference: each finished task stored the inputs of its first 10 · sbatch training samples, the predictors'
        // memory (reported as a replay approach's); the classifier was trained after task 1. A checkpoint carries both bit
        // for bit, so a resumed run predicts the same tasks by every predictor.
        Assert.Equal([0, 1], dwa.State.TaskInputs.Keys);
        Assert.All(dwa.State.TaskInputs.Values, x => Assert.Equal([Dwa.AnchorSetBatches * 32L, 1, 28, 28], x.shape));
        Assert.Equal((640, 640), (dwa.Memory(2).Capacity, dwa.Memory(2).Samples));
        Assert.Equal([320L, 320], dwa.Memory(2).SamplesPerTask);
        Assert.NotNull(dwa.State.TaskClassifier);
        var agnostic = dwa.EvaluateWithoutTask(1, bench.Tasks[1].Test, 2);
        Assert.Equal(["anchor", "centroid", "classifier", "entropy", "gaussian", "knn", "max-prob", "posterior"], agnostic.Keys.Order());
        // The embedding predictors compare with the stored inputs as the processor embeds them now (computed here by hand).
        using (no_grad())
        {
            network.eval();
            var current = dwa.State.TaskInputs.Values.Select(x => dwa.Masks.Embedding(network.Backbone, x, new Networks.ForwardContext(0))).ToArray();
            var test = dwa.Masks.Embedding(network.Backbone, bench.Tasks[1].Test.X, new Networks.ForwardContext(0));
            Assert.Equal(DwaTaskInference.NearestCentroid(test, current).eq(1).to_type(ScalarType.Float64).mean().item<double>(), agnostic["centroid"].TaskAccuracy, 12);
            // The classifier reads what the processor reads, the stem's features (fc1's 64 ReLU units here), not the embedding.
            var features = dwa.Masks.StemFeatures(network.Backbone, bench.Tasks[1].Test.X, new Networks.ForwardContext(0));
            Assert.Equal([bench.Tasks[1].Test.Count, 64L], features.shape);
            Assert.Equal(dwa.State.TaskClassifier!.Predict(features, 2).eq(1).to_type(ScalarType.Float64).mean().item<double>(), agnostic["classifier"].TaskAccuracy, 12);
        }
        // The classifier names the task far beyond chance (0.5) on both tasks' test samples: 84.3% of these 600. When it
        // read the embedding it named 61.8%; 0.75 lies over 6 standard errors from either.
        var classifierRight = (agnostic["classifier"].TaskAccuracy + dwa.EvaluateWithoutTask(0, bench.Tasks[0].Test, 2)["classifier"].TaskAccuracy) / 2;
        Assert.True(classifierRight > 0.75, $"the task classifier named the task of {classifierRight:P1} of the test samples");
        using var checkpoint = new StateDict();
        dwa.Save(checkpoint);
        var (resumed, _) = Build(bench);
        using (resumed)
        {
            resumed.Load(checkpoint);
            Assert.All(dwa.State.TaskInputs, kv => Assert.True(resumed.State.TaskInputs[kv.Key].allclose(kv.Value, rtol: 0, atol: 0)));
            Assert.All(dwa.State.TaskClassifier!.Tensors, kv => Assert.True(resumed.State.TaskClassifier!.Tensors[kv.Key].allclose(kv.Value, rtol: 0, atol: 0), kv.Key));
            Assert.Equal(agnostic, resumed.EvaluateWithoutTask(1, bench.Tasks[1].Test, 2));
        }
        // A checkpoint of an earlier Retain holds its classifier under "task_classifier" (it read the embedding; here the
        // entries are this one's, renamed): the resumed run ignores it and trains the classifier over the stem's features
        // from the stored inputs, here on the model as the task ended, so bit for bit the same.
        static string Earlier(string key) => key.Replace("task_classifier_features", "task_classifier", StringComparison.Ordinal);
        var values = new JsonObject();
        foreach (var (key, value) in checkpoint.AllValues) values[Earlier(key)] = value?.DeepClone();
        var earlier = StateDict.From(checkpoint.AllTensors.ToDictionary(kv => Earlier(kv.Key), kv => kv.Value), values);
        Assert.Contains("approach/task_classifier/w1", earlier.AllTensors.Keys);
        var (fromEarlier, _) = Build(bench);
        using (fromEarlier)
        {
            fromEarlier.Load(earlier);
            Assert.All(dwa.State.TaskClassifier!.Tensors, kv => Assert.True(fromEarlier.State.TaskClassifier!.Tensors[kv.Key].allclose(kv.Value, rtol: 0, atol: 0), kv.Key));
        }

        // Introspection: per task JSON, images, masks (fc2, fc3 factorised), figure; embedding summary and PCA figure.
        var lines = DwaIntrospection.Write(dwa, bench, 2, Folder, "run");
        Assert.Contains(lines, l => l.Contains("spread"));
        var folder = Path.Combine(Folder, "run.dwa");
        var record = ResultFiles.ReadRecord<DwaTaskSamples>(Path.Combine(folder, "task1_mnist-5-9.json"));
        Assert.Equal(DwaIntrospection.SamplesPerTask, record.Targets.Length);
        Assert.Equal(16, record.Embeddings[0].Length);
        Assert.Equal(["fc2", "fc3"], record.Masks.Keys);
        Assert.Equal("factors", record.Masks["fc2"].Form);
        var (shape, _) = NpyFile.Read(Path.Combine(folder, record.Masks["fc2"].Files[0]));
        Assert.Equal(2, shape.Length);
        Assert.Equal([10L, 1, 28, 28], NpyFile.Read(Path.Combine(folder, record.ImagesFile)).Shape);
        Assert.True(new FileInfo(Path.Combine(folder, record.MaskFigure)).Length > 1000);
        Assert.True(File.Exists(Path.Combine(folder, "embedding_pca.png")));
        var summary = ResultFiles.ReadRecord<DwaEmbeddingSummary>(Path.Combine(folder, "embedding_summary.json"));
        Assert.Equal(0, summary.CentroidDistances[1][1]);
        Assert.True(summary.CentroidDistances[0][1] > 0 && summary.Spread.All(s => s > 0));
    }

    [Fact]
    public void TheSameSeedTrainsToBitIdenticalParameters()
    {
        // The masked layers split every batch over threads (MaskMath.ForEachSampleRange): this must not change a bit.
        using var full = ExperimentCatalog.Load("mnist2", TestSupport.DataDir, seed: 0);
        using var bench = Subset(full, tasks: 2, train: 96, valid: 32, test: 32);
        Dictionary<string, Tensor> Trained()
        {
            var (dwa, network) = Build(bench, epochs: 1);
            using var _ = dwa;
            TrainAll(dwa, bench);
            return network.CopyParameters();
        }
        var (first, second) = (Trained(), Trained());
        Assert.All(first, p => Assert.True(p.Value.allclose(second[p.Key], rtol: 0, atol: 0), $"{p.Key} differs between two runs with the same seed"));
    }

    [Fact]
    public void PermutedMnistLearnsItsFirstTwoTasksWithBinarySparsity()
    {
        using var full = ExperimentCatalog.Load("pmnist", TestSupport.DataDir, seed: 0);
        using var bench = Subset(full, tasks: 2, train: 300, valid: 60, test: 200);
        var (dwa, _) = Build(bench, new DwaOptions { BinarySparsity = true, ScaleAttentionLoss = true }, epochs: 3);
        using var _ = dwa;
        var accuracy = TrainAll(dwa, bench);
        // Ten classes per task: chance is 10%.
        Assert.All(accuracy, (a, u) => Assert.True(a > 0.3, $"task {u} test accuracy {a:P1} after two tasks"));
        Assert.Equal(2, dwa.State.AnchorStore.Count);
    }

    [Fact]
    public void OptionsBindFromTheCommandLineWithThePresetFirst()
    {
        var spec = new DwaSpec();
        DwaOptions Bind(params (string Name, string Value)[] values) =>
            spec.Bind(values.ToDictionary(v => v.Name, v => v.Value), null, "dwa").Options;

        var corrected = Bind();
        Assert.Equal((DwaTaskPredictor.Posterior, DwaTaskPredictor.Knn, 3), (corrected.TaskPredictor, Bind(("task_predictor", "knn")).TaskPredictor, Bind(("knn", "3")).Neighbours));
        Assert.Equal((DwaPreset.Corrected, DwaFormulation.Corrected), (corrected.Preset, corrected.Formulation));
        Assert.Equal(DwaOptions.CorrectedLossWeights, corrected.LossWeights);
        Assert.Equal((DwaOptions.CorrectedSparsityWeight, 0.2, 1.0, 1.0, MaskGate.Sigmoid, false), (corrected.SparsityWeight, corrected.TargetSparsity, corrected.Margin, corrected.TaskNegativeWeight, corrected.Gate, corrected.BinarySparsity));
        // The λ defaults follow the formulation: the seed code's values for its own formulas; a given value wins either way.
        var seed = Bind(("formulation", "seed"));
        Assert.Equal([10, 0.05], seed.LossWeights);
        Assert.Equal(500.0, seed.SparsityWeight);
        Assert.Equal((7.0, 7.0), (Bind(("formulation", "seed"), ("lamb_reg", "7")).SparsityWeight, Bind(("lamb_reg", "7"), ("preset", "published")).SparsityWeight));
        // The seed's schedule, its warm-up and curriculum scaled to the run (at its 200 epochs: 10,750 and linear:100:0.2).
        var atDefaults = spec.WithDefaults(BackboneRegistry.Mlp).ResolveTraining(Dwa.Defaults);
        Assert.Equal((200, 32, 0.075, 10, 750.0, "linear:100:0.2"), (atDefaults.Epochs, atDefaults.BatchSize, atDefaults.LearningRate,
            atDefaults.Warmup!.Epochs, atDefaults.Warmup.Divisor, atDefaults.Curriculum!.ToString()));

        // published = the seed's final-warm script; an explicit option overrides the preset wherever it stands.
        var published = Bind(("alpha", "2"), ("preset", "published"));
        Assert.Equal((DwaFormulation.Seed, 20.0, 0.05, 500.0, 2.0, 1.0, MaskGate.Tanh, false, false, 0.2),
            (published.Formulation, published.TripletWeight, published.AttentionWeight, published.SparsityWeight, published.Margin,
             published.TaskNegativeWeight, published.Gate, published.BinarySparsity, published.ScaleAttentionLoss, published.TargetSparsity));
        Assert.Equal(DwaOptions.CorrectedLossWeights, Bind(("preset", "published"), ("formulation", "corrected")).LossWeights);
        Assert.Throws<RetainException>(() => Bind(("preset", "paper")));

        var custom = Bind(("lamb_loss", "5"), ("use_processor", "FALSE"), ("processor_feats", "8,16"), ("emb_size", "none"), ("stiff", "20"), ("gate", "tanh"));
        Assert.Equal((5.0, 5.0, false, 8, 16, (int?)null, 20), (custom.TripletWeight, custom.AttentionWeight, custom.UseProcessor,
            custom.Network.BottleneckFeatures, custom.Network.ProcessorFeatures, custom.EmbeddingSize, custom.StiffnessEpochs!.Value));

        // The options as the run record lists them bind back to the same options (a saved model is rebuilt from them).
        var listed = ApproachOptions.Describe(published).ToDictionary(o => o.Name, o => o.Value);
        Assert.Equal(listed, spec.Bind(listed, null, "dwa").OptionValues.ToDictionary(o => o.Name, o => o.Value));

        Assert.Throws<RetainException>(() => Bind(("use_apex", "true")));
        Assert.Throws<RetainException>(() => Bind(("lamb_loss", "1,2,3")));
        Assert.Throws<RetainException>(() => Bind(("processor_feats", "8")));
        Assert.Throws<RetainException>(() => Bind(("gate", "relu")));
        // A use_stem past the backbone's layers: the library names the setting, the command line its option.
        var stem = Assert.Throws<SettingException>(() => DwaNetworkFactory.Create(BackboneRegistry.AlexNet, [3, 32, 32], [2], new DwaNetworkOptions { StemLayers = 5 }));
        Assert.StartsWith("DwaNetworkOptions.StemLayers must be between 0 and 4", stem.Message);
        Assert.StartsWith("--use_stem must be between 0 and 4", Cli.SettingFlags.MessageOf(stem));
    }

    [Fact]
    public void ThePublishedPresetSetsTheBaseLoopOfFinalWarmUnderTheExplicitOptions()
    {
        var spec = new DwaSpec();
        var published = spec.Bind(new Dictionary<string, string> { ["preset"] = "published" }, null, "dwa");
        var defaults = published.TrainingDefaults(BackboneRegistry.AlexNet);
        // lr 0.05, warm-up 20 epochs at lr/1000, 200 epochs, and a patience that never runs out (the seed's rate never decayed).
        Assert.Equal((200, 32, 0.05, 20, 1000.0, int.MaxValue, 10000.0, "linear:100:0.2"), (defaults.Epochs, defaults.BatchSize, defaults.LearningRate,
            defaults.Warmup!.Epochs, defaults.Warmup.Divisor, defaults.Patience, defaults.ClipGradient, defaults.Curriculum!.ToString()));
        // The corrected preset leaves the warm-up and the curriculum to the run's epochs.
        Assert.Equal(Dwa.Defaults, spec.WithDefaults(BackboneRegistry.Mlp).TrainingDefaults(BackboneRegistry.Mlp));

        // Through a run: the preset's defaults, and an explicit option on top of them.
        var config = new Experiments.RunConfig
        {
            Experiment = "mnist2", Approach = "dwa", DataDir = TestSupport.DataDir, Output = Path.Combine(Folder, "run.txt"),
            Limit = 40, TestMode = 1, Epochs = 1, LearningRate = 0.02, Parameters = new Dictionary<string, string> { ["preset"] = "published" },
        };
        var record = Experiments.ExperimentRunner.Run(config);
        Assert.Equal((1, 0.02, 20, 1000.0, int.MaxValue), (record.Training.Epochs, record.Training.LearningRate,
            record.Training.Warmup!.Epochs, record.Training.Warmup.Divisor, record.Training.Patience));
        Assert.Equal(("seed", "tanh", "20,0.05"), (record.Parameters["formulation"], record.Parameters["gate"], record.Parameters["lamb_loss"]));
    }

    [Fact]
    public void ARunOfNEpochsTrainsAndRecordsTheSeedsScheduleScaledToN()
    {
        // --nepochs 20 without --warmup or --curriculum: the seed's 10 of 200 epochs at lr/750 become 1 epoch, and its
        // curriculum linear:100:0.2 becomes linear:10:0.2; the record says so, and the first epoch ran at lr/750.
        var record = Experiments.ExperimentRunner.Run(new Experiments.RunConfig
        {
            Experiment = "mnist2", Approach = "dwa", DataDir = TestSupport.DataDir, Output = Path.Combine(Folder, "run.txt"),
            Limit = 20, TestMode = 1, Epochs = 20, Network = BackboneRegistry.Mlp,
        });
        Assert.Equal((20, 1, 750.0, "linear:10:0.2"), (record.Training.Epochs, record.Training.Warmup!.Epochs, record.Training.Warmup.Divisor,
            record.Training.Curriculum!.ToString()));
        var rates = record.History.Select(e => e.LearningRate).ToArray();
        Assert.Equal(20, rates.Length);
        Assert.Equal(0.075 / 750, rates[0], 12);
        Assert.Equal(0.075, rates[1], 12);
    }

    [Fact]
    public void ThePublishedPresetKeepsItsMasksDenseAsTheOriginalsWere()
    {
        // The published run's masks sat at mean |M| >= 0.8 (tanh gates, the seed's sparsity term pushing towards dense
        // masks). The full-size MLP-DWA, two short epochs of mnist2's first task at the preset's rate (no warm-up).
        var record = Experiments.ExperimentRunner.Run(new Experiments.RunConfig
        {
            Experiment = "mnist2", Approach = "dwa", DataDir = TestSupport.DataDir, Output = Path.Combine(Folder, "run.txt"),
            Limit = 200, TestMode = 1, Epochs = 2, Warmup = new Warmup(0, 1), Curriculum = CurriculumSchedule.Parse("linear:1:1"),
            Parameters = new Dictionary<string, string> { ["preset"] = "published" },
        });
        // Epoch means: the masks start lower and grow into the dense regime within the first epoch.
        var use = record.History.Select(e => e.Scalars["dwa/mask_use"]).ToArray();
        Assert.True(use[^1] >= 0.8 && use[^1] > use[0], $"mean |M| per epoch: {string.Join(", ", use.Select(u => u.ToString("F3")))}");
    }

    [Fact]
    public void TheSeedFormulationKeepsTheAnchorOfTheLastSearchAndTheCorrectedOneRecomputesIt()
    {
        using var full = ExperimentCatalog.Load("mnist2", TestSupport.DataDir, seed: 0);
        using var bench = Subset(full, tasks: 1, train: 200, valid: 40, test: 40);
        foreach (var formulation in new[] { DwaFormulation.Seed, DwaFormulation.Corrected })
        {
            var (dwa, _) = Build(bench, new DwaOptions { Formulation = formulation }, epochs: 2);
            using var _ = dwa;
            dwa.Train(0, bench.Tasks[0], IgnoredEvents.Instance);
            // The seed stored P at the start of the last epoch; the corrected form recomputes it on the model kept.
            Assert.Equal(formulation == DwaFormulation.Seed, dwa.State.AnchorStore[0].SequenceEqual(dwa.State.Positive!));
            // The corrected negative anchor is orthogonal to P; the seed's projection with the unnormalised P is not.
            var (p, n) = (tensor(dwa.State.Positive!), tensor(dwa.State.Negative!));
            var cosine = Math.Abs((p.dot(n) / p.norm()).item<float>());
            Assert.True(formulation == DwaFormulation.Seed ? cosine > 1e-3 : cosine < 1e-4, $"{formulation}: |cos(P, N)| = {cosine}");
        }
    }

    [Fact]
    public void TheBenchmarkComparesBothComputationsOnEqualOutputs()
    {
        var timings = Benchmarks.DwaBenchmarks.MaskedLayers(batch: 3, repeats: 1, widthDivisor: 32);
        Assert.Equal(["c2", "c3", "fc1", "fc2"], timings.Select(t => t.Layer));
        Assert.All(timings, t => Assert.True(t.MaxDifference < 1e-4, t.ToString()));
    }
}
