using System.Text.Json.Serialization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Retain.Training;

/// <summary>
/// The optimiser of the base loop (<see cref="TrainingOptions.Optimizer"/>): plain SGD by default, the seed's. Its
/// learning rate is the loop's (<see cref="TrainingOptions.LearningRate"/>, with its warm-up and schedule). An
/// optimiser with state of its own (momentum, moment estimates) starts afresh with each task, as FACIL's and
/// Avalanche's do, and its state goes into checkpoints.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(SgdOptimizer), "sgd")]
[JsonDerivedType(typeof(AdamOptimizer), "adam")]
[JsonDerivedType(typeof(AdamWOptimizer), "adamw")]
public abstract record OptimizerOptions
{
    private protected OptimizerOptions() { }

    /// <summary>Whether the optimiser keeps state from step to step (which a checkpoint then holds).</summary>
    internal abstract bool HasState { get; }

    internal abstract optim.Optimizer Create(IEnumerable<Parameter> parameters, double learningRate);

    /// <summary>Throws a <see cref="SettingException"/> naming the first setting out of its range.</summary>
    internal abstract void Validate();

    private protected void Require(bool ok, string property, FormattableString problem)
    {
        if (!ok) throw new SettingException(GetType(), property, FormattableString.Invariant(problem));
    }

    private protected void ValidateAdam(double beta1, double beta2, double epsilon, double weightDecay)
    {
        Require(beta1 is >= 0 and < 1, "Beta1", $"must be in [0, 1) (got {beta1})");
        Require(beta2 is >= 0 and < 1, "Beta2", $"must be in [0, 1) (got {beta2})");
        Require(epsilon > 0, "Epsilon", $"must be positive (got {epsilon})");
        Require(weightDecay >= 0, "WeightDecay", $"must not be negative (got {weightDecay})");
    }
}

/// <summary>Stochastic gradient descent (<c>torch.optim.SGD</c>); without momentum and weight decay, the seed's optimiser.</summary>
public sealed record SgdOptimizer : OptimizerOptions
{
    public double Momentum { get; init; }
    public double WeightDecay { get; init; }
    public bool Nesterov { get; init; }

    internal override bool HasState => Momentum != 0;

    internal override optim.Optimizer Create(IEnumerable<Parameter> parameters, double learningRate) =>
        new SGD(parameters, learningRate, Momentum, WeightDecay, Nesterov);

    internal override void Validate()
    {
        Require(Momentum is >= 0 and < 1, nameof(Momentum), $"must be in [0, 1) (got {Momentum})");
        Require(WeightDecay >= 0, nameof(WeightDecay), $"must not be negative (got {WeightDecay})");
        Require(!Nesterov || Momentum > 0, nameof(Nesterov), $"needs a positive momentum");
    }
}

/// <summary>
/// <c>torch.optim.SGD</c> whose step holds its Scalars until the step ends. TorchSharp 0.107's step hands the rate
/// (and the momentum factors) to libtorch as temporary Scalars that nothing references during the native call, so a
/// collection at that moment can let the finalizer thread free one under libtorch: a run then ends with exit code 70
/// and "Expected false to be true" in <c>Scalar::toFloat</c> under <c>add_</c>, as one here did (docs/testing.md).
/// The step is TorchSharp's own, operation for operation (momentum, dampening 0, weight decay, Nesterov), so a run
/// trains to the same parameters bit for bit; a test compares the two. Named as TorchSharp's because a checkpoint
/// records the optimiser's type name and refuses another: checkpoints of either stay readable by the other.
/// </summary>
internal sealed class SGD(IEnumerable<Parameter> parameters, double learningRate, double momentum, double weightDecay, bool nesterov)
    : TorchSharp.Modules.SGD(parameters, learningRate, momentum, weight_decay: weightDecay, nesterov: nesterov)
{
    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
    {
        var options = group.Options;
        var momentum = options.momentum!.Value;
        var weightDecay = options.weight_decay!.Value;
        var learningRate = options.LearningRate!.Value;
        using var decay = weightDecay.ToScalar();
        using var momentumFactor = momentum.ToScalar();
        using var undamped = (1 - options.dampening!.Value).ToScalar();
        using var rate = (options.maximize!.Value ? learningRate : -learningRate).ToScalar();
        foreach (var param in group.Parameters)
        {
            var grad = param.grad;
            if (grad is null) continue;
            if (weightDecay != 0) grad = grad.add(param, alpha: decay);
            if (momentum != 0)
            {
                var state = (State)_state[param.Handle];
                var buffer = state.momentum_buffer;
                if (buffer is null)
                    buffer = grad.clone().detach().DetachFromDisposeScope();
                else
                    buffer.mul_(momentumFactor).add_(grad, alpha: undamped);
                grad = options.nesterov!.Value ? grad.add(buffer, alpha: momentumFactor) : buffer;
                state.momentum_buffer = buffer;
            }
            param.add_(grad, alpha: rate);
        }
    }, closure);
}

/// <summary>Adam (Kingma and Ba, 2015; <c>torch.optim.Adam</c>); its weight decay is L2 added to the gradient.</summary>
public sealed record AdamOptimizer : OptimizerOptions
{
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    public double Epsilon { get; init; } = 1e-8;
    public double WeightDecay { get; init; }

    internal override bool HasState => true;

    internal override optim.Optimizer Create(IEnumerable<Parameter> parameters, double learningRate) =>
        optim.Adam(parameters, learningRate, beta1: Beta1, beta2: Beta2, eps: Epsilon, weight_decay: WeightDecay);

    internal override void Validate() => ValidateAdam(Beta1, Beta2, Epsilon, WeightDecay);
}

/// <summary>AdamW (Loshchilov and Hutter, 2019; <c>torch.optim.AdamW</c>): Adam with weight decay applied to the weights.</summary>
public sealed record AdamWOptimizer : OptimizerOptions
{
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    public double Epsilon { get; init; } = 1e-8;
    public double WeightDecay { get; init; } = 0.01;

    internal override bool HasState => true;

    internal override optim.Optimizer Create(IEnumerable<Parameter> parameters, double learningRate) =>
        optim.AdamW(parameters, learningRate, beta1: Beta1, beta2: Beta2, eps: Epsilon, weight_decay: WeightDecay);

    internal override void Validate() => ValidateAdam(Beta1, Beta2, Epsilon, WeightDecay);
}

/// <summary>
/// The loss of a task's logits against its labels (<see cref="TrainingOptions.Loss"/>), the part of every approach's
/// objective that fits the current task (its regularisers are added to it): cross-entropy by default, the seed's.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(CrossEntropyLoss), "cross_entropy")]
[JsonDerivedType(typeof(FocalLoss), "focal")]
public abstract record LossFunction
{
    private protected LossFunction() { }

    /// <summary>The batch mean of the loss of <paramref name="logits"/> (N × classes) against <paramref name="labels"/> (N, int64).</summary>
    public abstract Tensor Compute(Tensor logits, Tensor labels);

    internal abstract void Validate();
}

/// <summary>Cross-entropy, optionally with label smoothing (Szegedy et al. 2016: the target puts ε/K on every class).</summary>
public sealed record CrossEntropyLoss : LossFunction
{
    public double LabelSmoothing { get; init; }

    public override Tensor Compute(Tensor logits, Tensor labels) => LabelSmoothing == 0
        ? nn.functional.cross_entropy(logits, labels)
        : nn.functional.cross_entropy(logits, labels, label_smoothing: LabelSmoothing);

    internal override void Validate()
    {
        if (!(LabelSmoothing is >= 0 and < 1))
            throw new SettingException(typeof(CrossEntropyLoss), nameof(LabelSmoothing), FormattableString.Invariant($"must be in [0, 1) (got {LabelSmoothing})"));
    }
}

/// <summary>
/// Focal loss (Lin et al. 2017, eq. 4 without α): <c>−(1 − p_y)^γ log p_y</c>, batch mean, which weighs down the samples
/// the model already classifies well; γ = 0 is cross-entropy.
/// </summary>
public sealed record FocalLoss : LossFunction
{
    public double Gamma { get; init; } = 2;

    public override Tensor Compute(Tensor logits, Tensor labels)
    {
        var logProbability = nn.functional.log_softmax(logits, 1).gather(1, labels.unsqueeze(1)).squeeze(1);
        return -((1 - logProbability.exp()).pow(Gamma) * logProbability).mean();
    }

    internal override void Validate()
    {
        if (!(Gamma >= 0)) throw new SettingException(typeof(FocalLoss), nameof(Gamma), FormattableString.Invariant($"must not be negative (got {Gamma})"));
    }
}
