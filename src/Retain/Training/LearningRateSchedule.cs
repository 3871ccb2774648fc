namespace Retain.Training;

/// <summary>
/// The per-task learning-rate logic of the base loop, corrected as the seed spec describes: after
/// <c>Patience</c> epochs without a new best validation loss the rate is divided by <c>Factor</c>; once it is below
/// <c>MinLearningRate</c> training of the task stops. Patience only runs once warm-up is over and the curriculum
/// threshold has reached 1. (The seed compares <c>warmup_ep &gt;= e</c>, which disables decay and early stopping.)
/// A warm-up of W epochs trains at lr/D and restores the base rate after epoch W-1; W = 0 means no warm-up.
/// </summary>
public sealed class LearningRateSchedule : IStateful
{
    private readonly TrainingOptions _options;
    private readonly int _warmupEpochs;

    public LearningRateSchedule(TrainingOptions options)
    {
        _options = options;
        _warmupEpochs = options.Warmup is { Epochs: > 0 } w ? w.Epochs : 0;
        LearningRate = _warmupEpochs > 0 ? options.LearningRate / options.Warmup!.Divisor : options.LearningRate;
        PatienceLeft = options.Patience;
    }

    public double LearningRate { get; private set; }
    public double BestLoss { get; private set; } = double.PositiveInfinity;
    public int PatienceLeft { get; private set; }

    /// <summary>Continues from <paramref name="learningRate"/>, as if the schedule had just started there (after any warm-up).</summary>
    public void Restart(double learningRate) => (LearningRate, BestLoss, PatienceLeft) = (learningRate, double.PositiveInfinity, _options.Patience);

    public void Save(StateDict state) =>
        state.SetValue("lr", LearningRate).SetValue("best_loss", BestLoss).SetValue("patience_left", PatienceLeft);

    public void Load(StateDict state) =>
        (LearningRate, BestLoss, PatienceLeft) = (state.Value<double>("lr"), state.Value<double>("best_loss"), state.Value<int>("patience_left"));

    /// <summary>
    /// Records epoch <paramref name="epoch"/>'s validation loss. Returns whether it is a new best (the caller keeps
    /// that model) and whether training of the task must stop.
    /// </summary>
    public (bool Improved, bool Stop) EndOfEpoch(int epoch, double validLoss, double curriculumThreshold = 1)
    {
        var improved = validLoss < BestLoss;
        var stop = false;
        if (improved)
        {
            BestLoss = validLoss;
            PatienceLeft = _options.Patience;
        }
        else if (curriculumThreshold >= 1 && epoch >= _warmupEpochs)
        {
            PatienceLeft--;
            if (PatienceLeft <= 0)
            {
                LearningRate /= _options.LearningRateFactor;
                if (LearningRate < _options.MinLearningRate) stop = true;
                PatienceLeft = _options.Patience;
            }
        }
        else
        {
            PatienceLeft = _options.Patience;
        }
        if (_warmupEpochs > 0 && epoch + 1 == _warmupEpochs) LearningRate = _options.LearningRate;
        return (improved, stop);
    }
}
