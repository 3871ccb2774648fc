using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Retain.Training;

/// <summary>
/// The gradient half of a training step without the passes over every gradient that change nothing. A step used to
/// zero every gradient (a write of all of them), let backward add the new gradients into the zeros (a read of both and
/// a write), and scale every gradient by a clipping factor that is exactly 1 unless the norm exceeds the bound (a read
/// and a write): three passes over memory the size of the model on each step, for the MLP about as long as its
/// element-wise work. A step within the clipping bound gives the same results bit for bit (but the sign of an exact
/// zero: backward's -0 is kept, where 0 + -0 gave +0), for every optimiser, since the optimiser sees the same
/// gradients; a clipped step the same up to float32 rounding of the norm.
/// </summary>
internal static class Gradients
{
    /// <summary>
    /// <c>zero_grad()</c> then <c>loss.backward()</c>, without the zeroing and the addition: each gradient is taken
    /// off its parameter before backward, so backward stores its result instead of adding it to zeros. A parameter
    /// that had a gradient and that this backward does not reach gets its old gradient back, zeroed, as
    /// <c>zero_grad()</c> would have left it (clipping counts it, and optimisers with momentum or decay still step it).
    /// </summary>
    public static void Backward(Tensor loss, IReadOnlyList<Parameter> parameters)
    {
        var previous = new Tensor?[parameters.Count];
        for (var i = 0; i < parameters.Count; i++)
        {
            previous[i] = parameters[i].grad;
            if (previous[i] is not null) parameters[i].grad = null;
        }
        try
        {
            loss.backward();
        }
        finally
        {
            for (var i = 0; i < parameters.Count; i++)
            {
                if (previous[i] is not { } old) continue;
                if (parameters[i].grad is null) parameters[i].grad = old.zero_();
                old.Dispose();
            }
        }
    }

    /// <summary>
    /// <c>nn.utils.clip_grad_norm_</c> (2-norm), except that the gradients are not multiplied by the factor when it is
    /// 1 (the norm within the bound: almost every step at the seed's bound of 10,000), which leaves them as they were.
    /// Each gradient's sum of squares is a BLAS dot product of the gradient with itself, which on the MLP's 800 × 800
    /// gradient took 0.033 ms against 0.147 ms for torch's norm kernel; the norm is the same up to float32 rounding, so
    /// a clipped step can differ from <c>clip_grad_norm_</c>'s in the last bits. Reads the norm on the host once, as the
    /// C++ version does.
    /// </summary>
    /// <returns>The total norm of the gradients.</returns>
    public static double ClipNorm(IEnumerable<Parameter> parameters, double maxNorm)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var gradients = parameters.Select(p => p.grad).OfType<Tensor>().ToArray();
        if (gradients.Length == 0) return 0;
        var squares = gradients.Select(g => g.reshape(-1)).Select(g => g.dot(g)).ToArray();
        double norm = (squares.Length == 1 ? squares[0] : stack(squares).sum()).sqrt().item<float>();
        var factor = maxNorm / (norm + 1e-6);
        if (factor < 1)
            foreach (var g in gradients) g.mul_(factor);
        return norm;
    }
}
