using System.Globalization;
using Retain.Data;
using Retain.Evaluation;
using Retain.Experiments;
using Retain.Networks;
using Retain.Networks.Dwa;
using ScottPlot;
using TorchSharp;
using static TorchSharp.torch;

namespace Retain.Approaches;

/// <summary>How one masked layer's masks of the sampled inputs are stored.</summary>
/// <param name="Form">
/// "full": one file, samples x weight shape. "factors": two files, rows (samples x f2) and columns (samples x f1);
/// the masks are <c>gate(rows_b ⊗ columns_b)</c> flattened (index p·f1 + q) and reshaped to the weight shape.
/// </param>
internal sealed record DwaMaskFiles(long[] WeightShape, string Form, string[] Files);

/// <summary>The introspection record of one task (the seed's <c>.analysis</c> file).</summary>
internal sealed record DwaTaskSamples
{
    public required int Task { get; init; }
    public required string Name { get; init; }
    public required string Gate { get; init; }
    /// <summary>Positions of the samples in the task's test set.</summary>
    public required long[] SampleIndices { get; init; }
    public required long[] Targets { get; init; }
    public required long[] Predicted { get; init; }
    /// <summary>Head-u logits per sample.</summary>
    public required float[][] Output { get; init; }
    public required float[][] Embeddings { get; init; }
    /// <summary>The inputs, samples x C x H x W (normalised as the network saw them).</summary>
    public required string ImagesFile { get; init; }
    public required Dictionary<string, DwaMaskFiles> Masks { get; init; }
    public required string MaskFigure { get; init; }
}

/// <summary>Geometry of the embedding space after the last task: where each task's test inputs land.</summary>
internal sealed record DwaEmbeddingSummary
{
    public required string[] Tasks { get; init; }
    public required int[] Samples { get; init; }
    /// <summary>Euclidean distances between the task centroids.</summary>
    public required double[][] CentroidDistances { get; init; }
    /// <summary>Mean distance of each task's embeddings to its own centroid.</summary>
    public required double[] Spread { get; init; }
    /// <summary>Share of the variance along the first two principal components (the PCA figure's axes).</summary>
    public required double[] ExplainedVariance { get; init; }
}

/// <summary>
/// Writes DWA's introspection (<see cref="DwaIntrospection"/>) when a DWA run ends, into <paramref name="folder"/> under
/// the run's name (<see cref="RunOutputs.ArtifactsFolder"/>); what it found goes to every sink as a note. Runs of other
/// approaches are left alone. <c>retain run</c> passes it after <see cref="RunPlan.FileSinks"/>.
/// </summary>
public sealed class DwaIntrospectionSink(string folder, string runName) : IRunAttachedSink
{
    private Learner? _learner;

    /// <summary>The sink of a planned run: its artifacts folder and name.</summary>
    public static DwaIntrospectionSink For(RunPlan plan) => new(RunOutputs.ArtifactsFolder(plan.Paths), plan.Paths.Name);

    public void Attach(Learner learner) => _learner = learner;

    public void RunFinished(RunRecord record)
    {
        if (_learner?.Approach is not Dwa dwa) return;
        foreach (var line in DwaIntrospection.Write(dwa, _learner.Benchmark, record.TasksCompleted, folder, runName)) _learner.Note(line);
    }
}

/// <summary>
/// DWA's introspection after the last task (docs/dwa.md, "Options", introspection): for each task, 10 random
/// test inputs with their embeddings, logits and masks (JSON + .npy files) and a figure like the paper's figure 7
/// (conv masks averaged over the kernel axes to out x in, dense masks as out x in, colour map plasma); then a summary
/// of the embedding space (centroid distances, spreads, PCA figure). Files go to <c>&lt;folder&gt;/&lt;run name&gt;.dwa/</c>
/// (the folder is the log path if given, else the accuracy file's).
/// </summary>
internal static class DwaIntrospection
{
    public const int SamplesPerTask = 10;
    /// <summary>Test inputs per task (the first ones, stored order) for the embedding summary.</summary>
    public const int SummarySamplesPerTask = 200;
    /// <summary>Larger masks are average-pooled to at most this many pixels a side in the figures.</summary>
    private const int FigureSide = 256;
    private const int CellPixels = 160;

    /// <summary>The folder's name is the run's with this extension.</summary>
    public const string FolderExtension = RunOutputs.DwaFolderExtension;

    public static IReadOnlyList<string> Write(Dwa dwa, Benchmark benchmark, int tasksCompleted, string folder, string runName)
    {
        folder = Path.Combine(folder, runName + FolderExtension);
        Directory.CreateDirectory(folder);
        var model = dwa.Model;
        var device = model.parameters().First().device;
        model.eval();
        using var noGrad = no_grad();

        for (var u = 0; u < tasksCompleted; u++)
        {
            using var scope = NewDisposeScope();
            var record = WriteTaskSamples(dwa, benchmark.Tasks[u], u, folder, device);
            ResultFiles.WriteRecord(Path.Combine(folder, $"{Stem(u, benchmark.Tasks[u].Name)}.json"), record);
        }
        var summary = SummariseEmbeddings(dwa, benchmark, tasksCompleted, device, Path.Combine(folder, "embedding_pca.png"));
        ResultFiles.WriteRecord(Path.Combine(folder, "embedding_summary.json"), summary);
        ResultFiles.WriteRecord(Path.Combine(folder, "state.json"), dwa.State.ToFile(includeFisher: false));

        var lines = new List<string> { $"DWA introspection written to {folder}/ (per task: samples, masks, figure; embedding summary)" };
        lines.AddRange(Describe(summary));
        return lines;
    }

    private static string Stem(int task, string name) =>
        $"task{task}_{string.Concat(name.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' ? c : '_'))}";

    private static DwaTaskSamples WriteTaskSamples(Dwa dwa, TaskData task, int u, string folder, Device device)
    {
        var gating = dwa.Masks;
        var stem = Stem(u, task.Name);
        var count = Math.Min(SamplesPerTask, task.Test.Count);
        var picked = randperm(task.Test.Count).narrow(0, 0, count);
        var x = task.Test.X.index_select(0, picked);
        var y = task.Test.Y.index_select(0, picked);
        var context = new ForwardContext(u);
        var logits = dwa.Model.Forward(x.to(device), context);
        var embeddings = context.Get<DwaForwardState>().EmbeddingOut!;

        var imagesFile = $"{stem}.images.npy";
        NpyFile.Write(Path.Combine(folder, imagesFile), DwaState.ToArray(x), x.shape);
        var masks = new Dictionary<string, DwaMaskFiles>();
        foreach (var layer in gating.MaskedLayers)
        {
            var shape = gating.Spec(layer).WeightShape;
            if (gating.FactorisedGenerator(layer) is { } factorised)
            {
                var (rows, columns) = factorised.Factors(embeddings);
                string[] files = [$"{stem}.{layer}.rows.npy", $"{stem}.{layer}.columns.npy"];
                NpyFile.Write(Path.Combine(folder, files[0]), DwaState.ToArray(rows), rows.shape);
                NpyFile.Write(Path.Combine(folder, files[1]), DwaState.ToArray(columns), columns.shape);
                masks[layer] = new DwaMaskFiles(shape, "factors", files);
            }
            else
            {
                var full = gating.Masks(layer, embeddings, shape);
                var file = $"{stem}.{layer}.npy";
                NpyFile.Write(Path.Combine(folder, file), DwaState.ToArray(full), full.shape);
                masks[layer] = new DwaMaskFiles(shape, "full", [file]);
            }
        }
        var figure = $"{stem}.masks.png";
        DrawMaskFigure(gating, x, embeddings, Path.Combine(folder, figure));

        return new DwaTaskSamples
        {
            Task = u, Name = task.Name, Gate = gating.Options.Gate.ToString().ToLowerInvariant(),
            SampleIndices = picked.data<long>().ToArray(), Targets = y.data<long>().ToArray(),
            Predicted = logits.argmax(1).cpu().data<long>().ToArray(), Output = Rows(logits), Embeddings = Rows(embeddings),
            ImagesFile = imagesFile, Masks = masks, MaskFigure = figure,
        };
    }

    private static float[][] Rows(Tensor matrix)
    {
        var values = DwaState.ToArray(matrix);
        var width = (int)matrix.shape[1];
        return Enumerable.Range(0, (int)matrix.shape[0]).Select(r => values[(r * width)..((r + 1) * width)]).ToArray();
    }

    /// <summary>Figure 7: one row per sample, the input (channel mean) and then each masked layer's mask.</summary>
    private static void DrawMaskFigure(DwaWeightMasks gating, Tensor x, Tensor embeddings, string path)
    {
        var layers = gating.MaskedLayers;
        var (rows, columns) = ((int)x.shape[0], layers.Count + 1);
        var figure = new Multiplot();
        figure.AddPlots(rows * columns);
        figure.Layout = new ScottPlot.MultiplotLayouts.Grid(rows, columns);
        for (var b = 0; b < rows; b++)
        {
            using var scope = NewDisposeScope();
            var image = x[b].mean([0]);
            Cell(figure.GetPlot(b * columns), image, new ScottPlot.Colormaps.Grayscale(), b == 0 ? "input" : null);
            var embedding = embeddings.narrow(0, b, 1);
            for (var l = 0; l < layers.Count; l++)
            {
                var mask = gating.Masks(layers[l], embedding, gating.Spec(layers[l]).WeightShape)[0];
                var outByIn = mask.dim() == 4 ? mask.mean([2, 3]) : mask;   // conv: average over the kernel axes
                Cell(figure.GetPlot(b * columns + l + 1), Shrink(outByIn), new ScottPlot.Colormaps.Plasma(), b == 0 ? layers[l] : null);
            }
        }
        figure.SavePng(path, columns * CellPixels, rows * CellPixels);
    }

    /// <summary>Average-pools a matrix to at most <see cref="FigureSide"/> pixels a side.</summary>
    private static Tensor Shrink(Tensor matrix)
    {
        var (h, w) = (matrix.shape[0], matrix.shape[1]);
        if (h <= FigureSide && w <= FigureSide) return matrix;
        return nn.functional.adaptive_avg_pool2d(matrix.unsqueeze(0).unsqueeze(0), [Math.Min(h, FigureSide), Math.Min(w, FigureSide)])[0, 0];
    }

    /// <summary>One image of the figure, its colours spanning its own value range (as the notebook's imshow).</summary>
    private static void Cell(Plot plot, Tensor matrix, IColormap colormap, string? title)
    {
        var values = DwaState.ToArray(matrix);
        var (h, w) = ((int)matrix.shape[0], (int)matrix.shape[1]);
        var grid = new double[h, w];
        for (var i = 0; i < h; i++)
            for (var j = 0; j < w; j++) grid[i, j] = values[i * w + j];
        var heatmap = plot.Add.Heatmap(grid);
        heatmap.Colormap = colormap;
        plot.Axes.Frameless();
        plot.HideGrid();
        if (title is not null) plot.Title(title, 12);
    }

    // ---- Embedding space --------------------------------------------------------------------------------------

    private static DwaEmbeddingSummary SummariseEmbeddings(Dwa dwa, Benchmark benchmark, int tasksCompleted, Device device, string pcaPath)
    {
        using var scope = NewDisposeScope();
        var perTask = new List<Tensor>();
        for (var u = 0; u < tasksCompleted; u++)
            perTask.Add(TestEmbeddings(dwa, benchmark.Tasks[u].Test, u, device));
        var centroids = perTask.Select(e => e.mean([0])).ToArray();
        var distances = centroids.Select(a => centroids.Select(b => (double)(a - b).norm().item<float>()).ToArray()).ToArray();
        var spread = perTask.Select((e, u) => (double)(e - centroids[u]).square().sum(1L).sqrt().mean().item<float>()).ToArray();
        var explained = DrawPca(perTask, benchmark.Tasks.Take(tasksCompleted).Select(t => t.Name).ToArray(), pcaPath);
        return new DwaEmbeddingSummary
        {
            Tasks = benchmark.Tasks.Take(tasksCompleted).Select(t => t.Name).ToArray(),
            Samples = perTask.Select(e => (int)e.shape[0]).ToArray(),
            CentroidDistances = distances, Spread = spread, ExplainedVariance = explained,
        };
    }

    /// <summary>Embeddings of the first test inputs of task u, computed with task u's head context (eval mode).</summary>
    private static Tensor TestEmbeddings(Dwa dwa, Split test, int u, Device device)
    {
        var parts = new List<Tensor>();
        foreach (var batch in test.Batches(dwa.Options.BatchSize, device, SummarySamplesPerTask))
        {
            var context = new ForwardContext(u);
            dwa.Model.Forward(batch.X, context);
            parts.Add(context.Get<DwaForwardState>().EmbeddingOut!.cpu().MoveToOuterDisposeScope());
        }
        var all = cat(parts, 0);
        foreach (var p in parts) p.Dispose();
        return all;
    }

    /// <summary>PCA (two components) of all tasks' embeddings: points per task, an arrow from the mean to each centroid.</summary>
    private static double[] DrawPca(IReadOnlyList<Tensor> perTask, string[] names, string path)
    {
        using var scope = NewDisposeScope();
        var all = cat(perTask.ToArray(), 0);
        var mean = all.mean([0]);
        var (_, singular, vh) = linalg.svd(all - mean, fullMatrices: false);
        var components = vh.narrow(0, 0, Math.Min(2, vh.shape[0])).t();
        var variance = singular.square();
        var explained = DwaState.ToArray(variance.narrow(0, 0, components.shape[1]) / variance.sum().clamp_min(1e-12)).Select(v => (double)v).ToArray();

        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        for (var u = 0; u < perTask.Count; u++)
        {
            var projected = (perTask[u] - mean).mm(components);
            var (xs, ys) = Coordinates(projected);
            var color = palette.GetColor(u);
            var points = plot.Add.ScatterPoints(xs, ys, color);
            points.LegendText = names[u];
            points.MarkerSize = 4;
            var centroid = projected.mean([0]);
            var (cx, cy) = Coordinates(centroid.unsqueeze(0));
            var arrow = plot.Add.Arrow(0, 0, cx[0], cy[0]);
            arrow.ArrowLineColor = color;
            arrow.ArrowFillColor = color;
        }
        plot.Title("DWA embeddings of test inputs (PCA)");
        plot.XLabel(string.Create(CultureInfo.InvariantCulture, $"PC1 ({100 * explained[0]:F1}% of variance)"));
        if (explained.Length > 1) plot.YLabel(string.Create(CultureInfo.InvariantCulture, $"PC2 ({100 * explained[1]:F1}% of variance)"));
        plot.ShowLegend();
        plot.SavePng(path, 800, 600);
        return explained;
    }

    private static (double[] X, double[] Y) Coordinates(Tensor projected)
    {
        var values = DwaState.ToArray(projected);
        var width = (int)projected.shape[1];
        var rows = (int)projected.shape[0];
        var xs = Enumerable.Range(0, rows).Select(r => (double)values[r * width]).ToArray();
        var ys = Enumerable.Range(0, rows).Select(r => width > 1 ? values[r * width + 1] : 0.0).ToArray();
        return (xs, ys);
    }

    /// <summary>The summary as lines: per task its spread and its nearest other task.</summary>
    public static IEnumerable<string> Describe(DwaEmbeddingSummary s)
    {
        var width = Math.Max(4, s.Tasks.Max(n => n.Length));
        yield return string.Create(CultureInfo.InvariantCulture, $"DWA embedding space ({s.Samples.Sum()} test inputs): per task the mean distance to its centroid, and the nearest other centroid");
        for (var u = 0; u < s.Tasks.Length; u++)
        {
            var nearest = Enumerable.Range(0, s.Tasks.Length).Where(v => v != u).OrderBy(v => s.CentroidDistances[u][v]).Cast<int?>().FirstOrDefault();
            var other = nearest is { } v ? string.Create(CultureInfo.InvariantCulture, $"{s.CentroidDistances[u][v],8:F4} ({s.Tasks[v]})") : "       -";
            yield return string.Create(CultureInfo.InvariantCulture, $"  {s.Tasks[u].PadRight(width)}  spread {s.Spread[u],8:F4}  nearest {other}");
        }
    }
}
