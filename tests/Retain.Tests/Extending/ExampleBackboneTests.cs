using Retain.Approaches;
using Retain.Experiments;
using Retain.Networks;

namespace Retain.Tests.Extending;

/// <summary>The guide's example backbone, registered from outside the project, runs end to end through the normal runner.</summary>
public class ExampleBackboneTests : TempFolderTests
{
    /// <summary>sgd fine-tunes the plain blocks; lwf also distils the first head through them while the second task trains.</summary>
    [Fact]
    public void ARegisteredBackboneIsKnownByNameAndLearnsEachTaskOfAShortRun()
    {
        using (BackboneRegistry.Register(new LeNetBackbone()))
        {
            var lenet = BackboneRegistry.Get("lenet");
            Assert.Equal("mlp, alexnet or lenet", BackboneRegistry.KnownNames);
            // 28x28 -> conv 5 -> 24 -> pool -> 12 -> conv 5 -> 8 -> pool -> 4: fc1 reads 64 x 4 x 4 features.
            Assert.Equal(1024, lenet.Layers([1, 28, 28])[2].Inputs);
            foreach (var approach in new[] { "sgd", "lwf" })
            {
                var config = EveryApproachLearnsTests.ShortRun(ApproachRegistry.Get(approach), lenet, Path.Combine(Folder, $"{approach}.txt"));
                var record = ExperimentRunner.Run(config);
                Assert.Equal("lenet", record.Network);
                for (var t = 0; t < 2; t++)
                    Assert.True(record.Accuracy[t][t] >= EveryApproachLearnsTests.Learned(Scenario.Task, t),
                        $"{approach} on lenet: task {t} test accuracy {record.Accuracy[t][t]:P1} (chance 50%)");
            }
        }
        var unknown = Assert.Throws<RetainException>(() => BackboneRegistry.Get("lenet"));
        Assert.Equal("--network: expected mlp or alexnet (got 'lenet')", unknown.Message);
    }
}
