using TorchSharp;
using static TorchSharp.torch;

namespace Retain.Networks.Dwa;

/// <summary>
/// <c>y_b = (W ⊙ M_b) x_b + bias</c> with <c>M_b = gate(r_b ⊗ c_b)</c> (flat index <c>p·f1 + q</c> reshaped to out x in),
/// plus the masks' per-sample magnitude <c>Σ|M_b|</c>, Fisher-weighted magnitude <c>Σ|M_b| ⊙ F</c> and active count.
/// <para>
/// Why a custom autograd function: the gate of an outer product does not factorise, so each sample's mask must be
/// materialised (out·in values; 4.2 M for AlexNet's fc2). Autograd would keep every sample's mask and masked weight
/// alive until the backward pass (about 1.1 GB per dense layer at batch 32). Here one sample's mask exists at a time;
/// the backward pass recomputes it from the factors (one outer product and one gate), so memory does not grow with
/// the batch.
/// </para>
/// <para>
/// Why it is fast: the work is a dozen element-wise passes over each sample's mask, so memory traffic and the number
/// of synchronisations decide the speed. Each sample is processed in place in two buffers of one mask (three for
/// tanh), allocated once per call and range of samples: no temporary is allocated per sample, and the buffers stay in
/// the caches (fresh multi-megabyte temporaries cost more than the arithmetic on them, because every first touch of
/// one of their pages faults: measured, over half the time of a version that allocated per chunk of samples). The
/// samples are split into one range per thread (<see cref="MaskMath.ForEachSampleRange"/>) instead of parallelising
/// each operation.
/// </para>
/// Inputs: x (B x in), rows (B x f2), columns (B x f1), weight (out x in), bias (out), importance F (out x in, or
/// null), gate, whether to count active entries. Outputs: y (B x out), magnitude (B), weighted magnitude (B; zeros
/// without F), active count (B, not differentiable; zeros unless counted).
/// </summary>
public sealed class FactorisedMaskedLinearFunction : autograd.MultiTensorFunction<FactorisedMaskedLinearFunction>
{
    public override string Name => "FactorisedMaskedLinear";

    public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (x, rows, columns, weight, bias, importance, gate, countActive) = Unpack(vars);
        ctx.save_for_backward([x, rows, columns, weight, bias, importance!]);   // a null entry is saved as "none"
        ctx.save_data("gate", gate);

        var batch = x.shape[0];
        var y = bias.expand(batch, -1).clone();
        var magnitude = empty(batch, dtype: x.dtype, device: x.device);
        var weighted = zeros(batch, dtype: x.dtype, device: x.device);
        var active = zeros(batch, dtype: x.dtype, device: x.device);
        MaskMath.ForEachSampleRange(batch, (_, first, end) =>
        {
            using var raw = empty(rows.shape[1], columns.shape[1], dtype: x.dtype, device: x.device);   // f2 x f1
            using var mask = raw.view(weight.shape);                                                      // out x in
            using var magnitudes = gate == MaskGate.Sigmoid ? mask.alias() : empty_like(mask);          // |M|; sigmoid masks are positive
            for (var b = first; b < end; b++)
            {
                using var scope = NewDisposeScope();
                FillMask(raw, rows[b], columns[b], gate);
                if (gate != MaskGate.Sigmoid) magnitudes.copy_(mask).abs_();
                MaskMath.SummariseSample(magnitudes, importance, countActive, magnitude[b], weighted[b], active[b]);
                y[b].addmv_(mask.mul_(weight), x[b], beta: 1, alpha: 1);                                   // + (W ⊙ M_b) x_b
            }
        });
        ctx.mark_non_differentiable([active]);
        return [y, magnitude, weighted, active];
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> gradients)
    {
        var saved = ctx.get_saved_variables();
        var (x, rows, columns, weight, bias) = (saved[0], saved[1], saved[2], saved[3], saved[4]);
        var importance = saved[5] is { IsInvalid: false } f ? f : null;
        var gate = (MaskGate)ctx.get_data("gate");
        var (gradY, gradMagnitude, gradWeighted) = (gradients[0], gradients[1], gradients[2]);

        var batch = x.shape[0];
        var gradX = empty_like(x);
        var gradRows = empty_like(rows);
        var gradColumns = empty_like(columns);
        // dL/dW sums over the samples: one partial sum per range of samples, added in range order.
        var partialGradWeights = Enumerable.Range(0, MaskMath.SampleRanges(batch)).Select(_ => zeros_like(weight)).ToArray();
        MaskMath.ForEachSampleRange(batch, (range, first, end) =>
        {
            var gradWeight = partialGradWeights[range];
            using var raw = empty(rows.shape[1], columns.shape[1], dtype: x.dtype, device: x.device);   // f2 x f1
            using var mask = raw.view(weight.shape);                                                      // out x in
            using var work = empty_like(raw);
            using var grad = work.view(weight.shape);
            using var scratch = gate == MaskGate.Sigmoid ? null : empty_like(mask);              // sign(M) for tanh masks
            for (var b = first; b < end; b++)
            {
                using var scope = NewDisposeScope();
                var (g, xb) = (gradY[b], x[b]);
                FillMask(raw, rows[b], columns[b], gate);                                   // recomputed

                // dL/dx_b = (W ⊙ M_b)^T g_b
                grad.copy_(weight).mul_(mask);
                gradX[b].addmv_(grad.t(), g, beta: 0, alpha: 1);

                // dL/dW += M_b ⊙ (g_b x_b^T); dL/dM_b = W ⊙ (g_b x_b^T) + the summaries' terms
                grad.addr_(g, xb, beta: 0, alpha: 1);
                gradWeight.addcmul_(grad, mask, 1);
                grad.mul_(weight);

                MaskMath.AddSummaryGradients(grad, mask, scratch, gate, importance, gradMagnitude[b], gradWeighted[b]);
                grad.mul_(gate.DerivativeInPlace(mask));                                    // dL/draw_b, f2 x f1 in work
                gradRows[b].addmv_(work, columns[b], beta: 0, alpha: 1);
                gradColumns[b].addmv_(work.t(), rows[b], beta: 0, alpha: 1);
            }
        });
        var gradWeightSum = partialGradWeights[0];
        foreach (var partial in partialGradWeights.Skip(1))
        {
            gradWeightSum.add_(partial);
            partial.Dispose();
        }
        var gradBias = gradY.sum(0L);
        return [gradX, gradRows, gradColumns, gradWeightSum, gradBias, null!, null!, null!];
    }

    /// <summary>One sample's mask gate(r ⊗ c), written into <paramref name="raw"/> (f2 x f1).</summary>
    private static void FillMask(Tensor raw, Tensor rows, Tensor columns, MaskGate gate) =>
        gate.ApplyInPlace(raw.addr_(rows, columns, beta: 0, alpha: 1));

    private static (Tensor X, Tensor Rows, Tensor Columns, Tensor Weight, Tensor Bias, Tensor? Importance, MaskGate Gate, bool CountActive) Unpack(object[] vars) =>
        ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], (Tensor)vars[3], (Tensor)vars[4], vars[5] as Tensor, (MaskGate)vars[6], (bool)vars[7]);
}
