namespace Retain.Data;

/// <summary>
/// Reader for CUB-200-2011 as extracted from <c>CUB_200_2011.tgz</c>: the folder <c>CUB_200_2011/</c> with the
/// space-separated index files <c>images.txt</c> (id, path), <c>train_test_split.txt</c> (id, is_train),
/// <c>image_class_labels.txt</c> (id, class id) and <c>classes.txt</c> (class id, name), and <c>images/&lt;path&gt;</c>.
/// <para>As the seed: class ids are shifted so the smallest is 0; each image is made RGB, scaled by
/// <c>min(32/w, 32/h)</c> with the new sizes truncated to whole pixels, and pasted on a black 32x32 canvas at
/// offset <c>floor(free space / 2)</c> in each direction.</para>
/// <para>Order: the seed shuffles the rows with pandas' <c>sample(frac=1, random_state=123)</c> before splitting;
/// pandas' sampler is not reproduced here, so images come in the order of <c>train_test_split.txt</c> (the order
/// the seed's merges produce before that shuffle). The seed validates and trains on shuffled data anyway.</para>
/// <para>Stricter than the seed's pandas merges, which drop unmatched ids silently: an id missing from an index file,
/// a repeated id or an unknown class is an error naming the file.</para>
/// </summary>
internal static class Cub200Reader
{
    public const int Side = 32;
    private const long MaxIndexFileBytes = 16L << 20; // the real images.txt is 0.6 MB

    public static (ImageSet Train, ImageSet Test) Load(string folder)
    {
        if (!Directory.Exists(folder)) throw new DataFileException(folder, "folder not found");
        var classes = ReadIndex(Path.Combine(folder, "classes.txt"));
        var split = ReadIndex(Path.Combine(folder, "train_test_split.txt"));
        var paths = ReadIndex(Path.Combine(folder, "images.txt")).ToDictionary(e => e.Id, e => e.Value);
        var classOf = ReadIndex(Path.Combine(folder, "image_class_labels.txt")).ToDictionary(e => e.Id, e => e.Value);

        var classesPath = Path.Combine(folder, "classes.txt");
        if (classes.Count == 0) throw new DataFileException(classesPath, "no classes");
        if (classes.Count > 256) throw new DataFileException(classesPath, $"{classes.Count} classes, at most 256 are supported");
        var firstClass = classes.Min(c => c.Id);
        var knownClasses = classes.Select(c => c.Id).ToHashSet();
        // The seed's network has one output per line of classes.txt; shifted ids must index those outputs.
        if (classes.Max(c => c.Id) - firstClass >= classes.Count)
            throw new DataFileException(classesPath, "class ids are not consecutive");

        var entries = new List<(string ImagePath, byte Label, bool IsTrain)>(split.Count);
        foreach (var (id, isTrain, line) in split)
        {
            if (isTrain is not ("0" or "1"))
                throw new DataFileException(Path.Combine(folder, "train_test_split.txt"), $"line {line}: is_train '{FileText.Printable(isTrain)}' is not 0 or 1");
            if (!paths.TryGetValue(id, out var relative))
                throw new DataFileException(Path.Combine(folder, "images.txt"), $"no line for image id {id}");
            if (!classOf.TryGetValue(id, out var classText))
                throw new DataFileException(Path.Combine(folder, "image_class_labels.txt"), $"no line for image id {id}");
            if (!int.TryParse(classText, out var classId) || !knownClasses.Contains(classId))
                throw new DataFileException(Path.Combine(folder, "image_class_labels.txt"), $"class '{FileText.Printable(classText)}' of image id {id} is not in classes.txt");
            if (Path.IsPathRooted(relative) || relative.Split('/', '\\').Contains(".."))
                throw new DataFileException(Path.Combine(folder, "images.txt"), $"image path '{FileText.Printable(relative)}' of id {id} leaves the images folder");
            entries.Add((Path.Combine(folder, "images", relative), (byte)(classId - firstClass), isTrain == "1"));
        }

        var pixels = new byte[entries.Count][];
        var errors = new DataFileException?[entries.Count];
        Parallel.For(0, entries.Count, i =>
        {
            try { pixels[i] = Letterbox(entries[i].ImagePath); }
            catch (DataFileException e) { errors[i] = e; }
        });
        if (errors.FirstOrDefault(e => e is not null) is { } error) throw error;

        ImageSet Select(bool train)
        {
            var chosen = Enumerable.Range(0, entries.Count).Where(i => entries[i].IsTrain == train).ToArray();
            var all = new byte[(long)chosen.Length * 3 * Side * Side];
            for (var k = 0; k < chosen.Length; k++) pixels[chosen[k]].CopyTo(all, (long)k * 3 * Side * Side);
            return new ImageSet(all, chosen.Select(i => entries[i].Label).ToArray(), 3, Side, Side);
        }
        return (Select(train: true), Select(train: false));
    }

    /// <summary>One image, fitted into 32x32 and centred on black; channel-major.</summary>
    public static byte[] Letterbox(string imagePath)
    {
        using var image = SkiaImageDecoder.DecodeRgb(imagePath);
        // The seed's arithmetic, in doubles as Python's: scale = min(32/w, 32/h), new size = int(size * scale).
        var scale = Math.Min((double)Side / image.Width, (double)Side / image.Height);
        int width = (int)(image.Width * scale), height = (int)(image.Height * scale);
        if (width < 1 || height < 1)
            throw new DataFileException(imagePath, $"a {image.Width}x{image.Height} image shrinks to {width}x{height} in a 32x32 square");
        var rgba = SkiaImageDecoder.ResizeRgba(image, width, height);
        int left = (Side - width) / 2, top = (Side - height) / 2;
        var chw = new byte[3 * Side * Side];
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
                for (var c = 0; c < 3; c++)
                    chw[(c * Side + top + y) * Side + left + x] = rgba[(y * width + x) * 4 + c];
        return chw;
    }

    /// <summary>The lines "id value" of an index file in file order (blank lines skipped, as pandas does).</summary>
    private static List<(int Id, string Value, int Line)> ReadIndex(string path)
    {
        if (!File.Exists(path)) throw new DataFileException(path, "file not found");
        string[] lines;
        try
        {
            var length = new FileInfo(path).Length;
            if (length > MaxIndexFileBytes) throw new DataFileException(path, $"{length} bytes is far larger than a CUB-200 index file");
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataFileException(path, $"cannot read ({e.Message})", e);
        }
        var entries = new List<(int, string, int)>(lines.Length);
        var seen = new HashSet<int>();
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            if (line.Length == 0) continue;
            var fields = line.Split(' ');
            if (fields.Length != 2 || fields[1].Length == 0 || !int.TryParse(fields[0], out var id) || id < 0)
                throw new DataFileException(path, $"line {i + 1} is not \"<id> <value>\"");
            if (!seen.Add(id)) throw new DataFileException(path, $"line {i + 1}: id {id} appears twice");
            entries.Add((id, fields[1], i + 1));
        }
        return entries;
    }
}
