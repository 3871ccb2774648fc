namespace Retain.Data;

/// <summary>
/// Lets the core load the pickled data sets of its built-in experiments (CIFAR's python version, GTSRB, FaceScrub,
/// notMNIST) with <see cref="CifarPickleReader"/> and <see cref="FeaturesPickleReader"/>.
/// </summary>
public static class PickleDatasets
{
    /// <summary>Registers the readers of this package with the core (<see cref="PickledData"/>); call it once at start-up.</summary>
    public static void Register() => PickledData.Use(Reader.Instance);

    private sealed class Reader : IPickledDataReader
    {
        public static readonly Reader Instance = new();

        public ImageSet ReadCifar10(string path) => CifarPickleReader.ReadCifar10(path);
        public ImageSet ReadCifar100(string path) => CifarPickleReader.ReadCifar100(path);
        public ImageSet ReadTrafficSigns(string path) => FeaturesPickleReader.ReadTrafficSigns(path);
        public ImageSet ReadFaceScrub(string path) => FeaturesPickleReader.ReadFaceScrub(path);
        public ImageSet ReadNotMnist(string path) => FeaturesPickleReader.ReadNotMnist(path);
    }
}
