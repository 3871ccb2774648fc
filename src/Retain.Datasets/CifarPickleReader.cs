namespace Retain.Data;

/// <summary>
/// Reader for the python version of CIFAR-10 (<c>cifar-10-batches-py/data_batch_1..5</c>, <c>test_batch</c>) and
/// CIFAR-100 (<c>cifar-100-python/train</c>, <c>test</c>): pickled dicts (Python 2, protocol 2, latin-1 strings)
/// whose <c>data</c> is a uint8 array <c>[N, 3072]</c> (1024 red, 1024 green, 1024 blue values, each a 32x32 image
/// row-major: already channel-major) and whose labels are a list of ints, <c>labels</c> for CIFAR-10 and
/// <c>fine_labels</c> for CIFAR-100 (whose <c>coarse_labels</c> are not used).
/// </summary>
public static class CifarPickleReader
{
    internal const int ImageBytes = 3 * 32 * 32;

    public static ImageSet ReadCifar10(string path) => Read(path, "labels", 10);

    public static ImageSet ReadCifar100(string path) => Read(path, "fine_labels", 100);

    private static ImageSet Read(string path, string labelKey, int classCount)
    {
        var dict = NumpyPickle.LoadDict(path);
        var data = NumpyPickle.ImageArray(path, NumpyPickle.Entry(path, dict, "data"), "data", ImageBytes);
        var labels = NumpyPickle.Labels(path, NumpyPickle.Entry(path, dict, labelKey), labelKey, data.Shape[0], classCount);
        return new ImageSet(data.Data, labels, 3, 32, 32);
    }
}
