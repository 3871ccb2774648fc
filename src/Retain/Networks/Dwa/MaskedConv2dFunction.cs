using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Retain.Networks.Dwa;

/// <summary>
/// <c>y_b = conv(x_b, W ⊙ M_b) + bias</c> with <c>M_b = gate(raw_b)</c>, the generator's raw output reshaped to the
/// kernel's shape, plus the masks' per-sample magnitude <c>Σ|M_b|</c>, Fisher-weighted magnitude <c>Σ|M_b| ⊙ F</c>
/// and active count (as <see cref="FactorisedMaskedLinearFunction"/>).
/// <para>
/// Why a custom autograd function, and why it is fast: no kernel is shared between samples, so each sample costs its
/// own convolution whatever the formulation; what costs beyond that is the mask arithmetic, which autograd would run
/// over the whole batch in freshly allocated tensors of B x numel(W) entries (gate, product, and their gradients, each
/// tens of MB, whose first touch faults page by page). Here each sample's mask and masked kernel exist in a buffer of
/// one kernel, reused for every sample of a range and recomputed in the backward pass, where the mask's gradient is
/// built in place in the sample's own row of dL/draw; the samples are split into one range per thread
/// (<see cref="MaskMath.ForEachSampleRange"/>). The convolution is an unfold and a matrix product per sample (slightly
/// faster than a convolution call at these sizes, and the unfolded input also gives dL/dW); dL/dx is a transposed
/// convolution, computed only when the input needs it.
/// </para>
/// Inputs: x (B x in x H x W), raw (B x numel(W)), weight (out x in x k x k), bias (out), importance F (weight shape,
/// or null), gate, whether to count active entries, stride, padding. Outputs: y (B x out x H' x W'), magnitude (B),
/// weighted magnitude (B; zeros without F), active count (B; zeros unless counted; the layer detaches it, see <see cref="MaskMath.Count"/>).
/// </summary>
internal sealed class MaskedConv2dFunction : autograd.MultiTensorFunction<MaskedConv2dFunction>
{
    public override string Name => "MaskedConv2d";

    public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (x, raw, weight, bias, importance, gate, countActive, stride, padding) = Unpack(vars);
        ctx.save_for_backward([x, raw, weight, importance!]);   // a null entry is saved as "none"
        ctx.save_data("gate", gate);
        ctx.save_data("stride", stride);
        ctx.save_data("padding", padding);
        ctx.save_data("input grad", x.requires_grad);

        var (batch, outChannels, kernel) = (x.shape[0], weight.shape[0], weight.shape[2]);
        var (height, width) = (OutputSide(x.shape[2], kernel, stride, padding), OutputSide(x.shape[3], kernel, stride, padding));
        var y = bias.view(1, outChannels, 1, 1).expand(batch, outChannels, height, width).clone();
        var magnitude = zeros(batch, dtype: x.dtype, device: x.device);
        var weighted = zeros(batch, dtype: x.dtype, device: x.device);
        var active = zeros(batch, dtype: x.dtype, device: x.device);
        MaskMath.ForEachSampleRange(batch, (_, first, end) =>
        {
            using var mask = empty_like(weight);
            using var magnitudes = gate == MaskGate.Sigmoid ? mask.alias() : empty_like(mask);          // |M|; sigmoid masks are positive
            for (var b = first; b < end; b++)
            {
                using var scope = NewDisposeScope();
                gate.ApplyInPlace(mask.copy_(raw[b].view(weight.shape)));
                if (gate != MaskGate.Sigmoid) magnitudes.copy_(mask).abs_();
                MaskMath.AddSummary(magnitudes, importance, countActive, magnitude[b], weighted[b], active[b]);
                var columns = Unfold(x[b], kernel, stride, padding);                                      // in·k·k x H'W'
                y[b].view(outChannels, -1).addmm_(mask.mul_(weight).view(outChannels, -1), columns, beta: 1, alpha: 1);
            }
        });
        return [y, magnitude, weighted, active];
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> gradients)
    {
        var saved = ctx.get_saved_variables();
        var (x, raw, weight) = (saved[0], saved[1], saved[2]);
        var importance = saved[3] is { IsInvalid: false } f ? f : null;
        var gate = (MaskGate)ctx.get_data("gate");
        var (stride, padding) = ((long)ctx.get_data("stride"), (long)ctx.get_data("padding"));
        var (gradY, gradMagnitude, gradWeighted) = (gradients[0], gradients[1], gradients[2]);

        var (batch, outChannels, kernel) = (x.shape[0], weight.shape[0], weight.shape[2]);
        var gradX = (bool)ctx.get_data("input grad") ? empty_like(x) : null;
        var gradRaw = empty_like(raw);
        // dL/dW sums over the samples: one partial sum per range of samples, added in range order.
        var partialGradWeights = Enumerable.Range(0, MaskMath.SampleRanges(batch)).Select(_ => zeros_like(weight)).ToArray();
        MaskMath.ForEachSampleRange(batch, (range, first, end) =>
        {
            var gradWeight = partialGradWeights[range];
            using var mask = empty_like(weight);
            using var scratch = gate == MaskGate.Sigmoid ? null : empty_like(mask);                     // sign(M) for tanh masks
            for (var b = first; b < end; b++)
            {
                using var scope = NewDisposeScope();
                var g = gradY[b];                                                                          // out x H' x W'
                gate.ApplyInPlace(mask.copy_(raw[b].view(weight.shape)));                                  // recomputed
                var grad = gradRaw[b].view(weight.shape);                                                  // built in place in the sample's row of dL/draw

                // dL/dx_b = the transposed convolution of g_b with W ⊙ M_b
                if (gradX is not null)
                {
                    grad.copy_(weight).mul_(mask);
                    var outputPadding = new[] { OutputPadding(x.shape[2], kernel, stride, padding), OutputPadding(x.shape[3], kernel, stride, padding) };
                    gradX[b].copy_(functional.conv_transpose2d(g.unsqueeze(0), grad, strides: [stride, stride], padding: [padding, padding], output_padding: outputPadding).squeeze(0));
                }

                // dL/d(W ⊙ M_b) = g_b (unfolded x_b)^T; dL/dW += M_b ⊙ that; dL/dM_b = W ⊙ that + the summaries' terms
                var columns = Unfold(x[b], kernel, stride, padding);
                grad.view(outChannels, -1).addmm_(g.view(outChannels, -1), columns.t(), beta: 0, alpha: 1);
                gradWeight.addcmul_(grad, mask, WorkerScalars.One);
                grad.mul_(weight);
                MaskMath.AddSummaryGradients(grad, mask, scratch, gate, importance, gradMagnitude[b], gradWeighted[b]);
                grad.mul_(gate.DerivativeInPlace(mask));
            }
        });
        var gradWeightSum = partialGradWeights[0];
        foreach (var partial in partialGradWeights.Skip(1))
        {
            gradWeightSum.add_(partial, WorkerScalars.One);
            partial.Dispose();
        }
        var gradBias = gradY.sum([0, 2, 3]);
        return [gradX!, gradRaw, gradWeightSum, gradBias, null!, null!, null!, null!, null!];
    }

    /// <summary>One sample's input unfolded into the columns of the convolution's matrix product: in·k·k x H'W'.</summary>
    private static Tensor Unfold(Tensor image, long kernel, long stride, long padding) =>
        functional.unfold(image.unsqueeze(0), kernel, padding: padding, stride: stride).squeeze(0);

    private static long OutputSide(long side, long kernel, long stride, long padding) => (side + 2 * padding - kernel) / stride + 1;

    /// <summary>The rows or columns a strided convolution skipped at the end, which its transpose must restore.</summary>
    private static long OutputPadding(long side, long kernel, long stride, long padding) => (side + 2 * padding - kernel) % stride;

    private static (Tensor X, Tensor Raw, Tensor Weight, Tensor Bias, Tensor? Importance, MaskGate Gate, bool CountActive, long Stride, long Padding) Unpack(object[] vars) =>
        ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], (Tensor)vars[3], vars[4] as Tensor, (MaskGate)vars[5], (bool)vars[6], (long)vars[7], (long)vars[8]);
}
