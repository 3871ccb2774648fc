namespace Retain.Data;

/// <summary>
/// Reads the data sets of the seed that come as Python pickles: CIFAR-10 and CIFAR-100 (python version), GTSRB
/// traffic signs, FaceScrub-100 and notMNIST. The core reads every other format itself; a pickle reader comes from the
/// package Retain.Datasets (<c>Retain.Data.PickleDatasets.Register()</c>), so that the core does not ship one.
/// </summary>
internal interface IPickledDataReader
{
    ImageSet ReadCifar10(string path);
    ImageSet ReadCifar100(string path);
    ImageSet ReadTrafficSigns(string path);
    ImageSet ReadFaceScrub(string path);
    ImageSet ReadNotMnist(string path);
}

/// <summary>The pickle reader the built-in data sets use, once an application registers one.</summary>
internal static class PickledData
{
    private static IPickledDataReader? _reader;

    /// <summary>Uses <paramref name="reader"/> for every pickled data set from now on (the last registration wins).</summary>
    public static void Use(IPickledDataReader reader) => _reader = reader ?? throw new ArgumentNullException(nameof(reader));

    internal static IPickledDataReader Reader(string path) => Require(_reader, path);

    /// <summary>The reader, or an error naming the file and the package that reads it.</summary>
    internal static IPickledDataReader Require(IPickledDataReader? reader, string path) => reader
        ?? throw new DataFileException(path, "reading a pickled data set needs the package Retain.Datasets (reference it and call Retain.Data.PickleDatasets.Register() once)");
}
