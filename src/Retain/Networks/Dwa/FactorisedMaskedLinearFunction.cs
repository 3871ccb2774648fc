using TorchSharp;
using static TorchSharp.torch;

namespace Retain.Networks.Dwa;

/// <summary>
/// <c>y_b = (W ⊙ M_b) x_b + bias</c> with <c>M_b = gate(r_b ⊗ c_b)</c> (flat index <c>p·f1 + q</c> reshaped to out x in),
/// plus the masks' per-sample magnitude <c>Σ|M_b|</c>, Fisher-weighted magnitude <c>Σ|M_b| ⊙ F</c> and active count.
/// <para>
/// Why a custom autograd function: the gate of an outer product does not factorise, so each sample's mask must be
/// materialised (out·in values; 4.2 M for AlexNet's fc2). Autograd would keep every sample's mask and masked weight
/// alive until the backward pass (about 1.1 GB per dense layer at batch 32). Here the masks exist only for a chunk of
/// samples at a time; the backward pass recomputes them from the factors (cheap: one outer product and one gate), so
/// memory is bounded by the chunk size whatever the batch size.
/// </para>
/// Inputs: x (B x in), rows (B x f2), columns (B x f1), weight (out x in), bias (out), importance F (out x in, or
/// null), gate, whether to count active entries, chunk bound (mask entries). Outputs: y (B x out), magnitude (B),
/// weighted magnitude (B; zeros without F), active count (B, not differentiable; zeros unless counted).
/// </summary>
public sealed class FactorisedMaskedLinearFunction : autograd.MultiTensorFunction<FactorisedMaskedLinearFunction>
{
    public override string Name => "FactorisedMaskedLinear";

    public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (x, rows, columns, weight, bias, importance, gate, countActive, chunkElements) = Unpack(vars);
        ctx.save_for_backward([x, rows, columns, weight, bias, importance!]);   // a null entry is saved as "none"
        ctx.save_data("gate", gate);
        ctx.save_data("chunk", chunkElements);

        var batch = x.shape[0];
        var y = empty(batch, weight.shape[0], dtype: x.dtype, device: x.device);
        var magnitude = empty(batch, dtype: x.dtype, device: x.device);
        var weighted = zeros(batch, dtype: x.dtype, device: x.device);
        var active = zeros(batch, dtype: x.dtype, device: x.device);
        var perChunk = MaskMath.SamplesPerChunk(weight.numel(), batch, chunkElements);
        for (long start = 0; start < batch; start += perChunk)
        {
            using var scope = NewDisposeScope();
            var count = Math.Min(perChunk, batch - start);
            var masks = ChunkMasks(rows, columns, start, count, gate, weight.shape);   // c x out x in
            var flat = masks.view(count, -1);
            var abs = gate == MaskGate.Sigmoid ? flat : flat.abs();
            magnitude.narrow(0, start, count).copy_(abs.sum(1L));
            if (importance is not null) weighted.narrow(0, start, count).copy_(abs.mv(importance.flatten()));
            active.narrow(0, start, count).copy_(abs.ge(MaskMath.ActiveThreshold).sum(1, type: x.dtype));
            if (!ReferenceEquals(abs, flat)) abs.Dispose();
            var maskedWeights = masks.mul_(weight);                                     // in place: the masks are no longer needed
            y.narrow(0, start, count).copy_(maskedWeights.bmm(x.narrow(0, start, count).unsqueeze(2)).squeeze(2));
        }
        y.add_(bias);
        ctx.mark_non_differentiable([active]);
        return [y, magnitude, weighted, active];
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> gradients)
    {
        var saved = ctx.get_saved_variables();
        var (x, rows, columns, weight, bias) = (saved[0], saved[1], saved[2], saved[3], saved[4]);
        var importance = saved[5] is { IsInvalid: false } f ? f : null;
        var gate = (MaskGate)ctx.get_data("gate");
        var chunkElements = (long)ctx.get_data("chunk");
        var (gradY, gradMagnitude, gradWeighted) = (gradients[0], gradients[1], gradients[2]);

        var batch = x.shape[0];
        var gradX = empty_like(x);
        var gradRows = empty_like(rows);
        var gradColumns = empty_like(columns);
        var gradWeight = zeros_like(weight);
        var perChunk = MaskMath.SamplesPerChunk(weight.numel(), batch, chunkElements);
        for (long start = 0; start < batch; start += perChunk)
        {
            using var scope = NewDisposeScope();
            var count = Math.Min(perChunk, batch - start);
            var g = gradY.narrow(0, start, count);                                      // c x out
            var xs = x.narrow(0, start, count);                                          // c x in
            var masks = ChunkMasks(rows, columns, start, count, gate, weight.shape);     // c x out x in, recomputed

            // dL/dx_b = (W ⊙ M_b)^T g_b
            using (var maskedWeights = masks * weight)
                gradX.narrow(0, start, count).copy_(g.unsqueeze(1).bmm(maskedWeights).squeeze(1));

            // dL/dM_b = W ⊙ (g_b x_b^T) (+ the regularisers' terms), dL/dW = Σ_b M_b ⊙ (g_b x_b^T)
            var outer = g.unsqueeze(2).bmm(xs.unsqueeze(1));                             // c x out x in
            var gradMasks = outer * weight;
            gradWeight.add_(outer.mul_(masks).sum(0L));
            outer.Dispose();

            // d|M|/dM = sign(M) (1 for sigmoid masks); the magnitude outputs' gradients are per sample.
            var perSample = gradMagnitude.narrow(0, start, count).view(count, 1, 1);
            if (gate == MaskGate.Sigmoid)
            {
                gradMasks.add_(perSample);
                if (importance is not null) gradMasks.add_(gradWeighted.narrow(0, start, count).view(count, 1, 1) * importance);
            }
            else
            {
                var fromMagnitude = perSample.expand(count, weight.shape[0], weight.shape[1]).clone();
                if (importance is not null) fromMagnitude.add_(gradWeighted.narrow(0, start, count).view(count, 1, 1) * importance);
                gradMasks.add_(fromMagnitude.mul_(masks.sign()));
            }

            // Through the gate: sigmoid' = M (1 - M), tanh' = 1 - M².
            var slope = gate == MaskGate.Sigmoid ? masks.sub_(masks.square()) : masks.mul_(masks).neg_().add_(1);
            var gradRaw = gradMasks.mul_(slope).view(count, rows.shape[1], columns.shape[1]);   // c x f2 x f1
            gradRows.narrow(0, start, count).copy_(gradRaw.bmm(columns.narrow(0, start, count).unsqueeze(2)).squeeze(2));
            gradColumns.narrow(0, start, count).copy_(rows.narrow(0, start, count).unsqueeze(1).bmm(gradRaw).squeeze(1));
        }
        var gradBias = gradY.sum(0L);
        return [gradX, gradRows, gradColumns, gradWeight, gradBias, null!, null!, null!, null!];
    }

    /// <summary>The masks of samples [start, start + count): gate(rows ⊗ columns), shaped c x out x in.</summary>
    private static Tensor ChunkMasks(Tensor rows, Tensor columns, long start, long count, MaskGate gate, long[] weightShape)
    {
        var raw = rows.narrow(0, start, count).unsqueeze(2).bmm(columns.narrow(0, start, count).unsqueeze(1));
        return gate.ApplyInPlace(raw).view(count, weightShape[0], weightShape[1]);
    }

    private static (Tensor X, Tensor Rows, Tensor Columns, Tensor Weight, Tensor Bias, Tensor? Importance, MaskGate Gate, bool CountActive, long ChunkElements) Unpack(object[] vars) =>
        ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], (Tensor)vars[3], (Tensor)vars[4], vars[5] as Tensor, (MaskGate)vars[6], (bool)vars[7], (long)vars[8]);
}
