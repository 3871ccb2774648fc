using static TorchSharp.torch;

namespace Retain.Training;

/// <summary>
/// Task prediction for the task-agnostic setting from every learned task's logits (T tensors of B x classes): each
/// head is asked about the sample, and the task whose head is most confident wins. Two measures of confidence:
/// <list type="bullet">
/// <item><see cref="MaxProbability"/>: the largest softmax probability (the default: the baseline of out-of-distribution
/// detection, Hendrycks and Gimpel 2017; heads with more classes are not favoured by it as by raw logits);</item>
/// <item><see cref="Entropy"/>: the lowest entropy of the softmax (uses the whole distribution, not only its top).</item>
/// </list>
/// </summary>
internal static class TaskPredictors
{
    public const string MaxProbability = "max-prob", Entropy = "entropy";

    /// <summary>Both generic predictions: predictor name → the predicted task of each sample (int64, B).</summary>
    public static Dictionary<string, Tensor> Generic(IReadOnlyList<Tensor> logits)
    {
        var probabilities = logits.Select(l => nn.functional.softmax(l, 1)).ToArray();
        var maxProbability = stack(probabilities.Select(p => p.max(1).values).ToArray(), 1);                           // B x T
        var negativeEntropy = stack(probabilities.Select(p => (p * p.clamp_min(1e-12).log()).sum(1)).ToArray(), 1);  // B x T
        return new() { [MaxProbability] = maxProbability.argmax(1), [Entropy] = negativeEntropy.argmax(1) };
    }
}
