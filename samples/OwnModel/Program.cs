// A .NET engineer's own model and data stream under Retain, from the NuGet package (docs/library.md quotes this file).
// Usage: dotnet run -- FOLDER [SAMPLES]   FOLDER holds Fashion-MNIST's four IDX files (train-images-idx3-ubyte[.gz], ...);
// SAMPLES (default 1000) caps each task's training, validation and test splits, class-stratified.
using Retain;
using Retain.Approaches;
using Retain.Data;
using Retain.Networks;
using Retain.Training;
using TorchSharp;
using static TorchSharp.torch;

if (args.Length is < 1 or > 2) { Console.Error.WriteLine("usage: OwnModel FOLDER [SAMPLES]"); return 2; }
var folder = args[0];
var samples = args.Length == 2 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 1000;
string Idx(string name) => File.Exists(Path.Combine(folder, name)) ? Path.Combine(folder, name) : Path.Combine(folder, name + ".gz");

// Five tasks of two Fashion-MNIST classes each, from the IDX files: T-shirt vs trouser, pullover vs dress, ...
using var stream = Benchmark.Limited(Benchmark.FromIdx(
    Idx("train-images-idx3-ubyte"), Idx("train-labels-idx1-ubyte"), Idx("t10k-images-idx3-ubyte"), Idx("t10k-labels-idx1-ubyte"),
    classGroups: [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]], name: "fashion"), samples);

// Any TorchSharp module that maps a batch to features [N, F] is a backbone: Retain adds one head per task.
var mine = new ModuleBackbone(() => new SmallNet(), "small-net");
// HAT gates the units of the layers it is given: declare the backbone as blocks.
var blocks = new LayeredBackbone("small-blocks", Layer.Linear(256), Layer.Linear(256));

static TrainingOptions Short(TrainingOptions t) => t with { Epochs = 5, BatchSize = 32 };

double Run(string title, ApproachSetup approach, BackboneArchitecture backbone)
{
    using var learner = Learner.Create(approach, backbone, stream, Short, seed: 0);
    EvaluationReport report = null!;
    foreach (var task in stream.Tasks)
    {
        learner.Train(task);
        report = learner.Evaluate(stream.Tasks);
    }
    Console.WriteLine($"{title}: accuracy after each task (rows), on each task (columns)");
    for (var t = 0; t < stream.Tasks.Count; t++)
        Console.WriteLine(string.Join(" ", Enumerable.Range(0, t + 1).Select(u => report.Matrix![t, u].ToString("F3", System.Globalization.CultureInfo.InvariantCulture))));
    Console.WriteLine(FormattableString.Invariant($"{title}: ACC {report.AverageAccuracy:F4} BWT {report.BackwardTransfer:F4}"));
    return report.BackwardTransfer;
}

var sgd = Run("sgd", new SgdSpec().WithDefaults(mine), mine);
// EWC holds the weights that mattered to earlier tasks; a stronger λ than the default 5000 forgets less here.
var ewc = Run("ewc", new EwcSpec().With(new EwcOptions { Lambda = 50000 }), mine);
var hat = Run("hat", new HatSpec().WithDefaults(blocks), blocks);
Console.WriteLine(FormattableString.Invariant($"forgetting (-BWT): sgd {-sgd:F4} ewc {-ewc:F4} hat {-hat:F4}"));
return 0;

/// <summary>A small network of our own: two linear layers over the flattened image, 256 features.</summary>
sealed class SmallNet : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> _hidden = nn.Linear(28 * 28, 256), _features = nn.Linear(256, 256);

    public SmallNet() : base(nameof(SmallNet)) => RegisterComponents();

    public override Tensor forward(Tensor x) =>
        nn.functional.relu(_features.forward(nn.functional.relu(_hidden.forward(x.flatten(1)))));
}
