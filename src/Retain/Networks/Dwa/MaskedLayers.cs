using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Retain.Networks.Dwa;

/// <summary>The squashing function that turns raw generator outputs (and the context embedding) into masks.</summary>
public enum MaskGate { Sigmoid, Tanh }

/// <summary>
/// The numbers DWA's per-sample workers pass to torch, as native scalars made once and never collected.
/// <para>
/// Why: TorchSharp turns a number into a new native <see cref="Scalar"/> at every call that takes one (also inside
/// calls that take none from us: <c>add_(Tensor)</c> passes an alpha of 1), and the Scalar's finalizer frees it. No
/// dispose scope holds Scalars, and the wrapper is unreachable as soon as the call has read its pointer, so a garbage
/// collection started by the other worker's allocations may finalize it while the call still reads it. Seen as
/// SIGSEGV in a DWA run and a crashed test host, and reproduced in minutes with frequent collections
/// (<c>DOTNET_GCgen0size=0x10000</c>): torch's check "Expected false to be true" in <c>add_</c>, called from a worker.
/// TorchSharp's fix (pull request 1434, disposing the Scalars it makes) is not released. A static field is never collected.
/// </para>
/// </summary>
internal static class WorkerScalars
{
    /// <summary>1 (an integer, as the literal it replaces).</summary>
    public static readonly Scalar One = 1;
    public static readonly Scalar MinusOne = -1;
    public static readonly Scalar ActiveThreshold = MaskMath.ActiveThreshold;
}

/// <summary>Mask arithmetic shared by the masked layers, their reference and the regularisers.</summary>
internal static class MaskMath
{
    /// <summary>
    /// A mask entry counts as "in use" (the binary sparsity's indicator) when its magnitude reaches this. Sigmoid and
    /// tanh masks are never exactly 0, so the paper's count of non-zero entries needs a threshold; 0.5 is the
    /// midpoint of the sigmoid's range (raw value 0).
    /// </summary>
    public const double ActiveThreshold = 0.5;

    /// <summary>A weight and bias initialised as torch's Linear/Conv2d do (the seed left DWA layers uninitialised).</summary>
    public static (Parameter Weight, Parameter Bias) TorchDefaultParameters(long[] weightShape, long fanIn)
    {
        var weight = new Parameter(empty(weightShape));
        var bias = new Parameter(empty(weightShape[0]));
        init.kaiming_uniform_(weight, a: Math.Sqrt(5));
        var bound = 1 / Math.Sqrt(fanIn);
        init.uniform_(bias, -bound, bound);
        return (weight, bias);
    }

    /// <summary>
    /// <paramref name="compute"/> over consecutive chunks of <paramref name="perChunk"/> samples (inputs and their
    /// masks), concatenated: bounds the per-sample weights materialised at once.
    /// </summary>
    public static Tensor InChunks(Tensor x, Tensor masks, long perChunk, Func<Tensor, Tensor, Tensor> compute)
    {
        var batch = x.shape[0];
        if (perChunk >= batch) return compute(x, masks);
        var parts = new List<Tensor>();
        try
        {
            for (long start = 0; start < batch; start += perChunk)
            {
                var count = Math.Min(perChunk, batch - start);
                using var xs = x.narrow(0, start, count);
                using var ms = masks.narrow(0, start, count);
                parts.Add(compute(xs, ms));
            }
            return cat(parts, 0);
        }
        finally
        {
            foreach (var p in parts) p.Dispose();
        }
    }

    /// <summary>
    /// Runs <paramref name="range"/>(worker, first, end) over contiguous ranges of the samples [0, <paramref name="batch"/>),
    /// one range per intra-op thread of torch, in parallel, with torch's own intra-op parallelism off meanwhile and
    /// without autograd recording (each worker is a thread of its own). Why: DWA's per-sample work is many
    /// element-wise operations on one mask each; parallelising every operation costs a synchronisation of all threads
    /// per operation, and on a loaded machine each one waits for a descheduled thread (measured with two threads: a
    /// factorised layer 4 to 7 times slower than with one thread), while ranges of samples synchronise once per call.
    /// The ranges depend only on the batch size and the thread count, so results are bit-identical run to run.
    /// </summary>
    public static void ForEachSampleRange(long batch, Action<int, long, long> range)
    {
        var threads = get_num_threads();
        var workers = SampleRanges(batch);
        void Run(int worker)
        {
            using var _ = no_grad();
            range(worker, batch * worker / workers, batch * (worker + 1) / workers);
        }
        if (workers == 1)
        {
            Run(0);
            return;
        }
        set_num_threads(1);
        try
        {
            Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, Run);
        }
        finally
        {
            set_num_threads(threads);
        }
    }

    /// <summary>The number of ranges <see cref="ForEachSampleRange"/> splits a batch into.</summary>
    public static int SampleRanges(long batch) => (int)Math.Clamp(get_num_threads(), 1, Math.Max(1, batch));

    /// <summary>
    /// Default bound on the mask entries materialised at once by a dense layer given explicit per-sample masks (1 Mi
    /// floats = 4 MiB per temporary): a batch is processed in chunks of <c>max(1, bound / mask size)</c> samples.
    /// Temporaries of tens of MB cost more to allocate than the arithmetic on them, because the C library maps them
    /// afresh and every first touch of a page faults (measured: a sigmoid over 32 masks of 800x800 takes 20 times
    /// longer per entry than over 4).
    /// </summary>
    public const long DefaultChunkElements = 1L << 20;

    public static Tensor Apply(this MaskGate gate, Tensor raw) => gate == MaskGate.Sigmoid ? raw.sigmoid() : raw.tanh();

    internal static Tensor ApplyInPlace(this MaskGate gate, Tensor raw) => gate == MaskGate.Sigmoid ? raw.sigmoid_() : raw.tanh_();

    /// <summary>Samples per chunk so that a chunk holds at most <paramref name="chunkElements"/> mask entries.</summary>
    public static int SamplesPerChunk(long elementsPerSample, long batch, long chunkElements) =>
        (int)Math.Clamp(chunkElements / Math.Max(1, elementsPerSample), 1, Math.Max(1, batch));

    /// <summary>
    /// The <see cref="MaskSummary"/> of masks given explicitly, one row per sample (<paramref name="masks"/>: R x
    /// weight shape). Differentiable in the masks except the active count (counted only if asked).
    /// </summary>
    public static MaskSummary Summarise(Tensor masks, Tensor? importance, MaskGate gate, bool countActive = true)
    {
        using var flat = masks.flatten(1);
        // Sigmoid masks are positive, so |M| = M and the absolute value (and its copy) can be skipped.
        using var magnitude = gate == MaskGate.Sigmoid ? flat.alias() : flat.abs();
        Tensor? weighted = null;
        if (importance is not null)
        {
            using var weights = importance.flatten();
            weighted = magnitude.mv(weights);
        }
        Tensor? active = null;
        if (countActive)
        {
            using var _ = no_grad();
            using var inUse = magnitude.ge(ActiveThreshold);
            using var count = inUse.count_nonzero([1]);
            active = count.to(magnitude.dtype);
        }
        return new MaskSummary(magnitude.sum(1L), weighted, active, flat.shape[1]);
    }

    /// <summary>
    /// Adds the summary of (part of) one sample's gated mask to that sample's entries: <c>Σ|M|</c>, <c>Σ|M| F</c> (with
    /// an importance F) and <c>#{|M| ≥ threshold}</c> (if counted). <paramref name="magnitudes"/> holds |M| (the mask
    /// itself for sigmoid masks).
    /// </summary>
    internal static void AddSummary(Tensor magnitudes, Tensor? importance, bool countActive, Tensor magnitude, Tensor weighted, Tensor active)
    {
        magnitude.add_(magnitudes.sum(), WorkerScalars.One);
        if (importance is not null) weighted.add_(magnitudes.flatten().dot(importance.flatten()), WorkerScalars.One);
        if (countActive) active.add_(magnitudes.ge(WorkerScalars.ActiveThreshold).count_nonzero(), WorkerScalars.One);
    }

    /// <summary>
    /// Adds the summaries' gradients to one sample's dL/dM in <paramref name="grad"/>: <c>gm + gw F</c> (sigmoid masks are
    /// positive), or <c>(gm + gw F) ⊙ sign(M)</c> for tanh masks, with sign(M) formed in <paramref name="scratch"/>.
    /// </summary>
    internal static void AddSummaryGradients(Tensor grad, Tensor mask, Tensor? scratch, MaskGate gate, Tensor? importance,
        Tensor gradMagnitude, Tensor gradWeighted)
    {
        if (gate == MaskGate.Sigmoid)
        {
            grad.add_(gradMagnitude, WorkerScalars.One);
            if (importance is not null) grad.addcmul_(importance, gradWeighted, WorkerScalars.One);
            return;
        }
        var sign = scratch!.copy_(mask).sign_();
        grad.addcmul_(sign, gradMagnitude, WorkerScalars.One);
        if (importance is not null) grad.addcmul_(sign.mul_(importance), gradWeighted, WorkerScalars.One);
    }

    /// <summary>Overwrites a gated mask M with the gate's derivative, sigmoid' = M - M², tanh' = 1 - M².</summary>
    internal static Tensor DerivativeInPlace(this MaskGate gate, Tensor mask) =>
        gate == MaskGate.Sigmoid ? mask.addcmul_(mask, mask, WorkerScalars.MinusOne) : mask.mul_(mask).neg_().add_(WorkerScalars.One, WorkerScalars.One);

    /// <summary>
    /// The active count a masked layer's autograd function returned, cut from the graph: a count has no gradient.
    /// <para>
    /// Why not <c>ctx.mark_non_differentiable</c> in the function: TorchSharp 0.107's <c>Node.WrapOutputs</c> builds the
    /// list of non-differentiable outputs in a pinned array and then builds the next list in the same holder, which
    /// unpins the first; a collection before the native call reads it frees the array, and torch read a null tensor
    /// (SIGSEGV in libLibTorchSharp, in a DWA run and in a test). With no output marked, the list is empty and
    /// nothing is read from it.
    /// </para>
    /// </summary>
    public static Tensor Count(Tensor activeOutput) => activeOutput.detach();

    /// <summary>A summary computed for one shared mask, repeated for <paramref name="batch"/> samples.</summary>
    public static MaskSummary Expand(MaskSummary shared, long batch) => new(
        shared.Magnitude.expand(batch), shared.WeightedMagnitude?.expand(batch), shared.ActiveCount?.expand(batch), shared.Elements);
}

/// <summary>
/// A dense layer whose weight is multiplied element-wise by a mask per sample: <c>y_b = (W ⊙ M_b) x_b + bias</c>.
/// Masks are either given explicitly (B x out x in, or out x in shared by all samples) or as the two factors of
/// DWA's combined mask generator, <c>M_b = gate(r_b ⊗ c_b)</c>, which are never materialised for the whole batch
/// (<see cref="FactorisedMaskedLinearFunction"/>).
/// </summary>
internal sealed class MaskedLinear : Module<Tensor, Tensor, Tensor>, IWeightLayer
{
    private readonly Parameter _weight;
    private readonly Parameter _bias;

    public MaskedLinear(long inputs, long outputs, string name = "masked_linear") : base(name)
    {
        // --weight-init may overwrite torch's default initialisation.
        (_weight, _bias) = MaskMath.TorchDefaultParameters([outputs, inputs], fanIn: inputs);
        register_parameter("weight", _weight);
        register_parameter("bias", _bias);
    }

    public Parameter Weight => _weight;
    public Parameter Bias => _bias;
    Parameter? IWeightLayer.Bias => _bias;
    bool IWeightLayer.IsConvolution => false;
    public long Inputs => _weight.shape[1];
    public long Outputs => _weight.shape[0];

    /// <summary>Explicit masks: B x out x in (one per sample, processed in chunks of samples) or out x in (shared).</summary>
    public override Tensor forward(Tensor x, Tensor masks) => Forward(x, masks, MaskMath.DefaultChunkElements);

    public Tensor Forward(Tensor x, Tensor masks, long chunkElements)
    {
        if (masks.dim() == 2)
        {
            using var shared = _weight * masks;
            return functional.linear(x, shared, _bias);
        }
        return MaskMath.InChunks(x, masks, MaskMath.SamplesPerChunk(_weight.numel(), x.shape[0], chunkElements), BatchedProduct);
    }

    /// <summary><c>y_b = (W ⊙ M_b) x_b + bias</c> for a chunk, as one batched matrix-vector product.</summary>
    private Tensor BatchedProduct(Tensor x, Tensor masks)
    {
        using var weights = _weight * masks;
        using var column = x.unsqueeze(2);
        using var product = weights.bmm(column);
        using var y = product.squeeze(2);
        return y.add(_bias);
    }

    /// <summary>
    /// Factorised masks <c>M_b = gate(rows_b ⊗ columns_b)</c>, flat index <c>p·f1 + q</c> reshaped to out x in
    /// (rows: B x f2, columns: B x f1, f1·f2 = out·in), with the masks' <see cref="MaskSummary"/>. Exact; the masks
    /// exist only one sample at a time, in the forward pass and again in the backward pass.
    /// </summary>
    public (Tensor Output, MaskSummary Summary) ForwardFactorised(Tensor x, Tensor rows, Tensor columns, MaskGate gate,
        Tensor? importance = null, bool countActive = true)
    {
        if (rows.shape[1] * columns.shape[1] != _weight.numel())
            throw new ArgumentException($"mask factors {rows.shape[1]} x {columns.shape[1]} do not cover a {Outputs} x {Inputs} weight");
        var outputs = FactorisedMaskedLinearFunction.apply(x, rows, columns, _weight, _bias, importance, gate, countActive);
        return (outputs[0], new MaskSummary(outputs[1], importance is null ? null : outputs[2], countActive ? MaskMath.Count(outputs[3]) : null, _weight.numel()));
    }
}

/// <summary>
/// A convolution whose kernel is multiplied element-wise by a mask per sample: <c>y_b = conv(x_b, W ⊙ M_b) + bias</c>,
/// with <c>M_b = gate(raw_b)</c> from the generator's raw output (<see cref="MaskedConv2dFunction"/>), or one mask
/// shared by the batch.
/// </summary>
internal sealed class MaskedConv2d : Module<Tensor, Tensor, Tensor>, IWeightLayer
{
    private readonly Parameter _weight;
    private readonly Parameter _bias;
    private readonly long _stride;
    private readonly long _padding;

    public MaskedConv2d(long inChannels, long outChannels, long kernel, long stride = 1, long padding = 0, string name = "masked_conv2d") : base(name)
    {
        _stride = stride;
        _padding = padding;
        (_weight, _bias) = MaskMath.TorchDefaultParameters([outChannels, inChannels, kernel, kernel], fanIn: inChannels * kernel * kernel);
        register_parameter("weight", _weight);
        register_parameter("bias", _bias);
    }

    public Parameter Weight => _weight;
    public Parameter Bias => _bias;
    Parameter? IWeightLayer.Bias => _bias;
    bool IWeightLayer.IsConvolution => true;
    public long Stride => _stride;
    public long Padding => _padding;

    /// <summary>One mask (out x in x k x k) shared by every sample of the batch.</summary>
    public override Tensor forward(Tensor x, Tensor mask)
    {
        if (mask.dim() != 4) throw new ArgumentException($"a shared mask has the kernel's shape (got [{string.Join(",", mask.shape)}]); per-sample masks go through ForwardGated");
        using var shared = _weight * mask;
        return functional.conv2d(x, shared, _bias, strides: [_stride, _stride], padding: [_padding, _padding]);
    }

    /// <summary>
    /// Per-sample masks <c>M_b = gate(raw_b)</c> (raw: B x numel(W), the mask generator's output), with the masks'
    /// <see cref="MaskSummary"/>. The masks exist only one sample at a time, in the forward and the backward pass.
    /// </summary>
    public (Tensor Output, MaskSummary Summary) ForwardGated(Tensor x, Tensor raw, MaskGate gate, Tensor? importance = null, bool countActive = true)
    {
        if (raw.dim() != 2 || raw.shape[1] != _weight.numel())
            throw new ArgumentException($"raw masks must be B x {_weight.numel()} for a kernel [{string.Join(",", _weight.shape)}] (got [{string.Join(",", raw.shape)}])");
        var outputs = MaskedConv2dFunction.apply(x, raw, _weight, _bias, importance, gate, countActive, _stride, _padding);
        return (outputs[0], new MaskSummary(outputs[1], importance is null ? null : outputs[2], countActive ? MaskMath.Count(outputs[3]) : null, _weight.numel()));
    }
}

/// <summary>
/// The obvious computation the masked layers must agree with: one sample at a time, the masked weight is formed and
/// applied with an ordinary linear map or convolution. Used by the tests and by <c>retain bench dwa-layers</c>.
/// </summary>
internal static class MaskedLayerReference
{
    public static Tensor Linear(Tensor x, Tensor weight, Tensor bias, Tensor masks)
    {
        var rows = new List<Tensor>();
        for (long b = 0; b < x.shape[0]; b++)
            rows.Add(functional.linear(x[b].unsqueeze(0), weight * masks[b], bias));
        return cat(rows, 0);
    }

    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor bias, Tensor masks, long stride = 1, long padding = 0)
    {
        var outputs = new List<Tensor>();
        for (long b = 0; b < x.shape[0]; b++)
            outputs.Add(functional.conv2d(x[b].unsqueeze(0), weight * masks[b], bias, strides: [stride, stride], padding: [padding, padding]));
        return cat(outputs, 0);
    }

    /// <summary>The factorised masks <c>gate(rows_b ⊗ columns_b)</c> materialised, B x <paramref name="weightShape"/>.</summary>
    public static Tensor FactorisedMasks(Tensor rows, Tensor columns, MaskGate gate, long[] weightShape) =>
        gate.Apply(rows.unsqueeze(2) * columns.unsqueeze(1)).reshape([rows.shape[0], .. weightShape]);
}
