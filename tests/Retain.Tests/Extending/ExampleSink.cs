using System.Globalization;
using Retain.Experiments;
using Retain.Networks;
using Retain.Training;

namespace Retain.Tests.Extending;

// docs/extending.md, "Add a run sink": a CSV of every epoch, and the events a run publishes.

/// <summary>
/// Writes one CSV line per epoch (task, epoch, learning rate, train loss, validation accuracy, then the approach's
/// scalars) and the test accuracies of each task as it is tested: what a spreadsheet or a plotting script reads while
/// the run goes on. A sink only listens: it overrides the events it needs (<see cref="IRunSink"/> has empty defaults).
/// </summary>
public sealed class EpochCsvSink(string path) : IRunSink
{
    private StreamWriter? _writer;

    public void RunStarted(RunRecord record, MultiHeadNetwork network, CheckpointPosition? resumedFrom)
    {
        // A resumed run appends, as TensorBoard's sink adds events; a fresh one starts the file.
        _writer = new StreamWriter(path, append: resumedFrom is not null) { AutoFlush = true };
        if (resumedFrom is null) _writer.WriteLine("task,epoch,lr,train_loss,valid_acc,scalars");
    }

    public void EpochFinished(EpochRecord epoch) => _writer!.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{epoch.Task},{epoch.Epoch},{epoch.LearningRate},{epoch.TrainLoss},{epoch.ValidAccuracy},{string.Join(';', epoch.Scalars.Select(s => $"{s.Key}={s.Value}"))}"));

    public void TaskTested(int task, IReadOnlyList<EvalResult> row, RunRecord record) =>
        _writer!.WriteLine(string.Create(CultureInfo.InvariantCulture, $"# after task {task}: {string.Join(' ', row.Select(r => r.Accuracy))}"));

    public void RunFinished(RunRecord record) => _writer?.Dispose();
}

/// <summary>Records the order of every event a run publishes, for the test below.</summary>
internal sealed class EventLog : IRunSink
{
    public List<string> Events { get; } = [];

    public void RunPlanned(RunSetup setup) => Events.Add($"planned {setup.Training.Epochs} epochs");
    public void RunStarted(RunRecord record, MultiHeadNetwork network, CheckpointPosition? resumedFrom) => Events.Add("started");
    public void TaskStarted(int task, string name, int maxEpochs) => Events.Add($"task {task} {name} {maxEpochs}");
    public void ScalarReported(int task, int epoch, string name, double value) => Events.Add($"scalar {task} {epoch} {name}");
    public void EpochFinished(EpochRecord epoch) => Events.Add($"epoch {epoch.Task} {epoch.Epoch}");
    public void TaskTested(int task, IReadOnlyList<EvalResult> row, RunRecord record) => Events.Add($"tested {task} {row.Count}");
    public void RunFinished(RunRecord record) => Events.Add("finished");
}

public class ExampleSinkTests : TempFolderTests
{
    private RunConfig Ewc(string name) => new()
    {
        Experiment = "mnist2", Approach = "ewc", DataDir = TestSupport.DataDir, Output = Path.Combine(Folder, name + ".txt"),
        Epochs = 2, Limit = 100,
    };

    [Fact]
    public void TheCsvHoldsEveryEpochAndEveryTest()
    {
        var csv = Path.Combine(Folder, "epochs.csv");
        var record = ExperimentRunner.Run(Ewc("ewc"), new EpochCsvSink(csv));
        var lines = File.ReadAllLines(csv);
        Assert.Equal("task,epoch,lr,train_loss,valid_acc,scalars", lines[0]);
        // The CSV's epochs are the JSON record's history, value for value.
        var epochs = lines.Skip(1).Where(l => !l.StartsWith('#')).Select(l => l.Split(',')).ToArray();
        Assert.Equal(record.History.Count, epochs.Length);
        foreach (var (line, epoch) in epochs.Zip(record.History))
        {
            Assert.Equal([epoch.Task, epoch.Epoch], [int.Parse(line[0], CultureInfo.InvariantCulture), int.Parse(line[1], CultureInfo.InvariantCulture)]);
            Assert.Equal(epoch.ValidAccuracy, double.Parse(line[4], CultureInfo.InvariantCulture));
            Assert.StartsWith("ewc/penalty=", line[5]);
        }
        var tests = lines.Where(l => l.StartsWith('#')).ToArray();
        Assert.Equal([$"# after task 0: {Text(record.Accuracy[0][0])}", $"# after task 1: {Text(record.Accuracy[1][0])} {Text(record.Accuracy[1][1])}"], tests);
    }

    private static string Text(double value) => value.ToString(CultureInfo.InvariantCulture);

    [Fact]
    public void ARunPublishesItsEventsInOrder()
    {
        var log = new EventLog();
        ExperimentRunner.Run(Ewc("events"), log);
        string[] Epoch(int task, int epoch) => [$"scalar {task} {epoch} ewc/penalty", $"epoch {task} {epoch}"];
        Assert.Equal(
        [
            "planned 2 epochs", "started",
            "task 0 mnist-0-4 2", .. Epoch(0, 0), .. Epoch(0, 1), "tested 0 1",
            "task 1 mnist-5-9 2", .. Epoch(1, 0), .. Epoch(1, 1), "tested 1 2",
            "finished",
        ], log.Events);
    }
}
