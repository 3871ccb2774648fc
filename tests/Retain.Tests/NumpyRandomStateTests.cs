using Retain.Data;

namespace Retain.Tests;

/// <summary>Test vectors of numpy's legacy RandomState from the seed spec (README section 8).</summary>
public class NumpyRandomStateTests
{
    [Fact]
    public void FirstOutputsOfSeedZeroMatchNumpy()
    {
        var rng = new NumpyRandomState(0);
        Assert.Equal([2357136044u, 2546248239u, 3071714933u], new[] { rng.NextUInt32(), rng.NextUInt32(), rng.NextUInt32() });
    }

    [Theory]
    [InlineData(0, 8, new[] { 6, 2, 1, 7, 3, 0, 5, 4 })]
    [InlineData(1, 8, new[] { 7, 2, 1, 6, 0, 4, 3, 5 })]
    [InlineData(0, 10, new[] { 2, 8, 4, 9, 1, 6, 7, 3, 0, 5 })]
    public void ShuffleOfArangeMatchesNumpy(int seed, int n, int[] expected) =>
        Assert.Equal(expected, new NumpyRandomState((uint)seed).Permutation(n));

    [Theory]
    [InlineData(0, 50000, new[] { 11841, 19602, 45519, 25747, 42642 })]
    [InlineData(200, 784, new[] { 92, 516, 39, 376, 634, 650 })]
    public void LongShufflesStartAsNumpys(int seed, int n, int[] prefix) =>
        Assert.Equal(prefix, new NumpyRandomState((uint)seed).Permutation(n)[..prefix.Length]);

    [Fact]
    public void SnapshotRestoresTheStream()
    {
        var rng = new NumpyRandomState(7);
        rng.Permutation(100);
        var snapshot = rng.Snapshot();
        var expected = rng.Permutation(50);
        var resumed = new NumpyRandomState(0);
        resumed.Restore(snapshot);
        Assert.Equal(expected, resumed.Permutation(50));
    }
}
