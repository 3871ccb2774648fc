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
/// of synchronisations decide the speed. The mask is processed in blocks of rows (about 1 MiB) in place in two buffers
/// of one block (three for tanh), allocated once per call and range of samples, and the loop runs over the samples
/// inside the loop over blocks: the block's weights, Fisher entries and dL/dW stay in the caches for all samples, and
/// no temporary is allocated per sample (fresh multi-megabyte temporaries cost more than the arithmetic on them,
/// because every first touch of one of their pages faults: measured, page faults took over half the time of a version
/// that allocated per chunk of samples; the blocks cut AlexNet's fc2 from 0.50 to 0.29 s of CPU per batch). The
/// samples are split into one range per thread (<see cref="MaskMath.ForEachSampleRange"/>) instead of parallelising
/// each operation.
/// </para>
/// Inputs: x (B x in), rows (B x f2), columns (B x f1), weight (out x in), bias (out), importance F (out x in, or
/// null), gate, whether to count active entries. Outputs: y (B x out), magnitude (B), weighted magnitude (B; zeros
/// without F), active count (B; zeros unless counted; the layer detaches it, see <see cref="MaskMath.Count"/>).
/// </summary>
internal sealed class FactorisedMaskedLinearFunction : autograd.MultiTensorFunction<FactorisedMaskedLinearFunction>
{
    /// <summary>Mask entries per block of rows (1 MiB of float32): measured fastest between 0.5 and 2 MiB.</summary>
    private const long BlockElements = 1L << 18;

    public override string Name => "FactorisedMaskedLinear";

    public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (x, rows, columns, weight, bias, importance, gate, countActive) = Unpack(vars);
        ctx.save_for_backward([x, rows, columns, weight, bias, importance!]);   // a null entry is saved as "none"
        ctx.save_data("gate", gate);

        var batch = x.shape[0];
        var y = bias.expand(batch, -1).clone();
        var magnitude = zeros(batch, dtype: x.dtype, device: x.device);
        var weighted = zeros(batch, dtype: x.dtype, device: x.device);
        var active = zeros(batch, dtype: x.dtype, device: x.device);
        var blocks = RowBlocks(weight.shape[0], weight.shape[1], columns.shape[1]);
        MaskMath.ForEachSampleRange(batch, (_, first, end) =>
        {
            using var maskBuffer = empty(blocks[0].Elements, dtype: x.dtype, device: x.device);
            using var magnitudeBuffer = gate == MaskGate.Sigmoid ? null : empty_like(maskBuffer);          // |M|; sigmoid masks are positive
            foreach (var block in blocks)
            {
                using var blockScope = NewDisposeScope();
                var (mask, raw) = block.Views(maskBuffer);
                var magnitudes = magnitudeBuffer is null ? mask : block.Views(magnitudeBuffer).Mask;
                var (weights, importances) = (block.Of(weight), importance is null ? null : block.Of(importance));
                for (var b = first; b < end; b++)
                {
                    using var scope = NewDisposeScope();
                    FillMask(raw, block.RawOf(rows[b]), columns[b], gate);
                    if (magnitudeBuffer is not null) magnitudes.copy_(mask).abs_();
                    MaskMath.AddSummary(magnitudes, importances, countActive, magnitude[b], weighted[b], active[b]);
                    block.Of(y[b]).addmv_(mask.mul_(weights), x[b], beta: 1, alpha: 1);                    // + (W ⊙ M_b) x_b
                }
            }
        });
        return [y, magnitude, weighted, active];
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> gradients)
    {
        var saved = ctx.get_saved_variables();
        var (x, rows, columns, weight) = (saved[0], saved[1], saved[2], saved[3]);
        var importance = saved[5] is { IsInvalid: false } f ? f : null;
        var gate = (MaskGate)ctx.get_data("gate");
        var (gradY, gradMagnitude, gradWeighted) = (gradients[0], gradients[1], gradients[2]);

        var batch = x.shape[0];
        var gradX = zeros_like(x);
        var gradRows = empty_like(rows);
        var gradColumns = zeros_like(columns);
        // dL/dW sums over the samples: one partial sum per range of samples, added in range order.
        var partialGradWeights = Enumerable.Range(0, MaskMath.SampleRanges(batch)).Select(_ => zeros_like(weight)).ToArray();
        var blocks = RowBlocks(weight.shape[0], weight.shape[1], columns.shape[1]);
        MaskMath.ForEachSampleRange(batch, (range, first, end) =>
        {
            using var maskBuffer = empty(blocks[0].Elements, dtype: x.dtype, device: x.device);
            using var gradBuffer = empty_like(maskBuffer);
            using var scratchBuffer = gate == MaskGate.Sigmoid ? null : empty_like(maskBuffer);          // sign(M) for tanh masks
            foreach (var block in blocks)
            {
                using var blockScope = NewDisposeScope();
                var (mask, raw) = block.Views(maskBuffer);
                var (grad, gradRaw) = block.Views(gradBuffer);
                var scratch = scratchBuffer is null ? null : block.Views(scratchBuffer).Mask;
                var (weights, importances, gradWeight) = (block.Of(weight), importance is null ? null : block.Of(importance), block.Of(partialGradWeights[range]));
                for (var b = first; b < end; b++)
                {
                    using var scope = NewDisposeScope();
                    var (g, xb, rowFactors) = (block.Of(gradY[b]), x[b], block.RawOf(rows[b]));
                    FillMask(raw, rowFactors, columns[b], gate);                                         // recomputed

                    // dL/dx_b += (W ⊙ M_b)^T g_b over the block's rows
                    grad.copy_(weights).mul_(mask);
                    gradX[b].addmv_(grad.t(), g, beta: 1, alpha: 1);

                    // dL/dW += M_b ⊙ (g_b x_b^T); dL/dM_b = W ⊙ (g_b x_b^T) + the summaries' terms
                    grad.addr_(g, xb, beta: 0, alpha: 1);
                    gradWeight.addcmul_(grad, mask, WorkerScalars.One);
                    grad.mul_(weights);
                    MaskMath.AddSummaryGradients(grad, mask, scratch, gate, importances, gradMagnitude[b], gradWeighted[b]);

                    grad.mul_(gate.DerivativeInPlace(mask));                                             // dL/draw_b of the block
                    block.RawOf(gradRows[b]).addmv_(gradRaw, columns[b], beta: 0, alpha: 1);
                    gradColumns[b].addmv_(gradRaw.t(), rowFactors, beta: 1, alpha: 1);
                }
            }
        });
        var gradWeightSum = partialGradWeights[0];
        foreach (var partial in partialGradWeights.Skip(1))
        {
            gradWeightSum.add_(partial, WorkerScalars.One);
            partial.Dispose();
        }
        var gradBias = gradY.sum(0L);
        return [gradX, gradRows, gradColumns, gradWeightSum, gradBias, null!, null!, null!];
    }

    /// <summary>
    /// Rows [Row, Row + Rows) of the out x in mask; they are rows [RawRow, RawRow + RawRows) of the f2 x f1 outer
    /// product (the same flat entries).
    /// </summary>
    private sealed record RowBlock(long Row, long Rows, long RawRow, long RawRows, long Inputs, long RawColumns)
    {
        public long Elements => Rows * Inputs;

        /// <summary>The block's rows of a tensor indexed by the mask's rows first (W, F, dL/dW, y_b, dL/dy_b).</summary>
        public Tensor Of(Tensor t) => t.narrow(0, Row, Rows);

        /// <summary>The block's entries of a vector of row factors (f2).</summary>
        public Tensor RawOf(Tensor factors) => factors.narrow(0, RawRow, RawRows);

        /// <summary>The start of a buffer as the block's mask (rows x in) and as its rows of the outer product (raw rows x f1).</summary>
        public (Tensor Mask, Tensor Raw) Views(Tensor buffer)
        {
            using var entries = buffer.narrow(0, 0, Elements);
            return (entries.view(Rows, Inputs), entries.view(RawRows, RawColumns));
        }
    }

    /// <summary>
    /// Blocks of about <see cref="BlockElements"/> entries whose boundaries are rows of both the mask and the outer
    /// product: multiples of f1 / gcd(in, f1) mask rows (which divides out, since f1 divides out·in).
    /// </summary>
    private static RowBlock[] RowBlocks(long outputs, long inputs, long rawColumns)
    {
        var unit = rawColumns / (long)System.Numerics.BigInteger.GreatestCommonDivisor(inputs, rawColumns);
        var rowsPerBlock = Math.Max(unit, BlockElements / inputs / unit * unit);
        var blocks = new List<RowBlock>();
        for (long row = 0; row < outputs; row += rowsPerBlock)
        {
            var rows = Math.Min(rowsPerBlock, outputs - row);
            blocks.Add(new RowBlock(row, rows, row * inputs / rawColumns, rows * inputs / rawColumns, inputs, rawColumns));
        }
        return blocks.ToArray();
    }

    /// <summary>One sample's mask block gate(r_block ⊗ c), written into <paramref name="raw"/> (raw rows x f1).</summary>
    private static void FillMask(Tensor raw, Tensor rows, Tensor columns, MaskGate gate) =>
        gate.ApplyInPlace(raw.addr_(rows, columns, beta: 0, alpha: 1));

    private static (Tensor X, Tensor Rows, Tensor Columns, Tensor Weight, Tensor Bias, Tensor? Importance, MaskGate Gate, bool CountActive) Unpack(object[] vars) =>
        ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], (Tensor)vars[3], (Tensor)vars[4], vars[5] as Tensor, (MaskGate)vars[6], (bool)vars[7]);
}
