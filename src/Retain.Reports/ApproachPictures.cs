using SkiaSharp;

namespace Retain.Reports;

/// <summary>
/// The pictures approaches already draw, found where they write them, to embed in the page: HAT's task masks
/// (<c>retain inspect masks</c>: <c>&lt;run&gt;_masks_&lt;layer&gt;.png</c> beside the saved model), DWA's figure 7 and embedding
/// PCA (<c>&lt;run&gt;.dwa/</c>) and HAT's compression curves (<c>retain compress</c>: <c>compression_*.png</c>). A run's are
/// looked for in its log path (a study option), its result folder and that folder's subfolders (a <c>--log-path</c>
/// such as <c>res/logs</c>).
/// </summary>
internal static class ApproachPictures
{
    public static IReadOnlyList<ReportFigure> Of(ReportRun run, List<string> notes)
    {
        var pictures = new List<ReportFigure>();
        foreach (var folder in Folders(run.PictureFolders))
        {
            foreach (var file in Directory.GetFiles(folder, $"{run.RunName}_masks_*.png").Order(StringComparer.Ordinal))
                Add(pictures, notes, file, $"{run.Label}: HAT task masks, layer {Path.GetFileNameWithoutExtension(file)[(run.RunName.Length + "_masks_".Length)..]}",
                    "Gates at s = smax per task (rows) and unit (columns), from retain inspect masks.");
            var dwa = Path.Combine(folder, run.RunName + ".dwa");
            if (!Directory.Exists(dwa)) continue;
            foreach (var file in Directory.GetFiles(dwa, "*.masks.png").Order(StringComparer.Ordinal))
                Add(pictures, notes, file, $"{run.Label}: DWA attention masks, {Path.GetFileName(file)[..^".masks.png".Length]}",
                    "As the DWA paper's figure 7: per sampled test input (rows), the input and each masked layer's mask (conv masks averaged over the kernel), colour map plasma.");
            Add(pictures, notes, Path.Combine(dwa, "embedding_pca.png"), $"{run.Label}: DWA embeddings (PCA)",
                "The context embeddings of test inputs per task, on their first two principal components.");
        }
        return pictures;
    }

    /// <summary>HAT compression curves in the given folders.</summary>
    public static IReadOnlyList<ReportFigure> Compression(IEnumerable<string> folders, List<string> notes)
    {
        var pictures = new List<ReportFigure>();
        foreach (var file in folders.Distinct().SelectMany(f => Directory.GetFiles(f, "compression_*.png").Order(StringComparer.Ordinal)))
            Add(pictures, notes, file, $"HAT compression: {Path.GetFileNameWithoutExtension(file)}",
                "From retain compress: test accuracy against the share of gated weights in use, and units in use per layer per epoch.");
        return pictures;
    }

    /// <summary>The folders and their immediate subfolders, each once.</summary>
    private static IEnumerable<string> Folders(IEnumerable<string> folders) =>
        folders.Where(Directory.Exists).SelectMany(f => Directory.GetDirectories(f).Where(d => !d.EndsWith(".dwa", StringComparison.Ordinal)).Prepend(f))
            .Select(Path.GetFullPath).Distinct();

    /// <summary>Adds the picture when it is there and decodes as an image (its size goes to the page); a note when it does not decode.</summary>
    private static void Add(List<ReportFigure> pictures, List<string> notes, string path, string title, string caption)
    {
        if (!File.Exists(path)) return;
        using var codec = SKCodec.Create(path);
        if (codec is null) { notes.Add($"{path}: not an image that decodes; left out"); return; }
        pictures.Add(new ReportFigure(path, title, caption, codec.Info.Width, codec.Info.Height));
    }
}
