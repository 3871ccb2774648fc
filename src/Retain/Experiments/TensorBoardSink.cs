using Retain.Training;
using TorchSharp.Modules;
using static TorchSharp.torch.utils.tensorboard;

namespace Retain.Experiments;

/// <summary>
/// TensorBoard event files (<c>--tensorboard DIR</c>), written by TorchSharp's <c>SummaryWriter</c>. Tags follow
/// FACIL's per-task groups: <c>t&lt;task&gt;/train/loss</c>, <c>…/train/acc</c>, <c>…/valid/loss</c>, <c>…/valid/acc</c>,
/// <c>…/lr</c> and the approach's scalars (<c>t1/dwa/triplet</c>) at step = epoch of the task; after each task t,
/// <c>test/acc/t&lt;u&gt;</c> for every task u so far and <c>test/acc/mean</c> at step = t. A resumed run appends a new
/// event file to the folder; epochs redone after the checkpoint appear twice, at the same steps. The writer appends
/// and closes the file at every event, so nothing is buffered and nothing needs closing.
/// </summary>
public sealed class TensorBoardSink(string folder) : IRunSink
{
    private readonly SummaryWriter _writer = SummaryWriter(folder);

    public void EpochFinished(EpochRecord e)
    {
        var group = $"t{e.Task}";
        _writer.add_scalar($"{group}/train/loss", (float)e.TrainLoss, e.Epoch);
        _writer.add_scalar($"{group}/train/acc", (float)e.TrainAccuracy, e.Epoch);
        _writer.add_scalar($"{group}/valid/loss", (float)e.ValidLoss, e.Epoch);
        _writer.add_scalar($"{group}/valid/acc", (float)e.ValidAccuracy, e.Epoch);
        _writer.add_scalar($"{group}/lr", (float)e.LearningRate, e.Epoch);
    }

    public void ScalarReported(int task, int epoch, string name, double value) =>
        _writer.add_scalar($"t{task}/{name}", (float)value, epoch);

    public void TaskTested(int task, IReadOnlyList<EvalResult> row, RunRecord record)
    {
        for (var u = 0; u < row.Count; u++) _writer.add_scalar($"test/acc/t{u}", (float)row[u].Accuracy, task);
        _writer.add_scalar("test/acc/mean", (float)row.Average(r => r.Accuracy), task);
    }
}
