using static TorchSharp.torch;

namespace Retain.Training;

/// <summary>
/// Where the training of one task stands: everything the base loop needs to continue after an interruption, at an
/// epoch boundary or between two steps of an epoch. It lives only while the task trains.
/// </summary>
public sealed class TaskTraining : IStateful, IDisposable
{
    public TaskTraining(int task, TrainingOptions options, Dictionary<string, Tensor> best)
    {
        Task = task;
        Schedule = new LearningRateSchedule(options);
        Threshold = options.Curriculum?.Threshold(0) ?? 1;
        Best = best;
    }

    public int Task { get; }
    /// <summary>The epoch being trained, or the next one (epochs 0..Epoch-1 are finished).</summary>
    public int Epoch { get; set; }
    /// <summary>The curriculum threshold of epoch <see cref="Epoch"/> (1: every sample).</summary>
    public double Threshold { get; set; }
    /// <summary>The learning-rate schedule ended the task early.</summary>
    public bool Stopped { get; set; }
    public LearningRateSchedule Schedule { get; }
    /// <summary>The parameters of the best validation loss so far (what the task restores at its end).</summary>
    public Dictionary<string, Tensor> Best { get; private set; }
    /// <summary>Inside an epoch: the training samples in the epoch's batch order (null between epochs).</summary>
    public int[]? Order { get; set; }
    /// <summary>Inside an epoch: the next batch of <see cref="Order"/> to train.</summary>
    public int NextBatch { get; set; }
    public List<EpochRecord> History { get; } = [];
    /// <summary>The approach's scalars of the running epoch: per name, the sum of value × samples and the samples.</summary>
    public Dictionary<string, (double Sum, double Weight)> Scalars { get; } = [];

    /// <summary>Keeps <paramref name="current"/> as the best parameters so far.</summary>
    public void KeepBest(Dictionary<string, Tensor> current)
    {
        ParameterSet.DisposeAll(Best);
        Best = current;
    }

    /// <summary>The running epoch's scalars as weighted means, clearing them for the next epoch.</summary>
    public Dictionary<string, double> TakeScalars()
    {
        var means = Scalars.ToDictionary(kv => kv.Key, kv => kv.Value.Sum / kv.Value.Weight);
        Scalars.Clear();
        return means;
    }

    public void Save(StateDict state)
    {
        state.SetValue("task", Task).SetValue("epoch", Epoch).SetValue("threshold", Threshold).SetValue("stopped", Stopped)
            .SetValue("order", Order).SetValue("next_batch", NextBatch).SetValue("history", History)
            .SetValue("scalars", Scalars.ToDictionary(kv => kv.Key, kv => new[] { kv.Value.Sum, kv.Value.Weight }))
            .Set("best", Best);
        Schedule.Save(state.Scope("schedule"));
    }

    public void Load(StateDict state)
    {
        if (state.Value<int>("task") != Task) throw new InvalidOperationException("the checkpoint's task training belongs to another task");
        Epoch = state.Value<int>("epoch");
        Threshold = state.Value<double>("threshold");
        Stopped = state.Value<bool>("stopped");
        Order = state.Value<int[]?>("order");
        NextBatch = state.Value<int>("next_batch");
        History.Clear();
        History.AddRange(state.Value<List<EpochRecord>>("history"));
        Scalars.Clear();
        foreach (var (name, pair) in state.Value<Dictionary<string, double[]>>("scalars")) Scalars[name] = (pair[0], pair[1]);
        ParameterSet.CopyInto(Best, state, "best");
        Schedule.Load(state.Scope("schedule"));
    }

    public void Dispose() => ParameterSet.DisposeAll(Best);
}
