using System.Globalization;
using System.Text;
using Retain.Data;
using Retain.Experiments;
using Retain.Training;

namespace Retain.Tests;

/// <summary>
/// A small slice of the npm digits in a temporary data folder: the first 140 images of each digit (120 to train and
/// validate, 20 to test), so that the six end-to-end runs stay within seconds on a shared CPU. Deleted afterwards.
/// </summary>
public sealed class BaselinesSmallMnist : IDisposable
{
    private const int ImagesPerDigit = 140;

    public BaselinesSmallMnist()
    {
        DataDir = TestSupport.TempDir();
        var dir = Path.Combine(DataDir, Mnist.SubsetFolder);
        Directory.CreateDirectory(dir);
        for (var digit = 0; digit < 10; digit++)
        {
            var pixels = MnistJsonReader.ReadDigitFile(Path.Combine(TestSupport.DataDir, Mnist.SubsetFolder, $"{digit}.json"));
            var json = new StringBuilder("{\"data\":[");
            for (var i = 0; i < ImagesPerDigit * MnistJsonReader.ImageSize; i++)
                json.Append(i == 0 ? "" : ",").Append((pixels[i] / 255.0).ToString("0.###", CultureInfo.InvariantCulture));
            File.WriteAllText(Path.Combine(dir, $"{digit}.json"), json.Append("]}").ToString());
        }
    }

    public string DataDir { get; }

    public void Dispose() => Directory.Delete(DataDir, recursive: true);
}

/// <summary>Each baseline trains both tasks of mnist2 for one epoch through the experiment protocol.</summary>
public class BaselinesEndToEndTests(BaselinesSmallMnist mnist) : TempFolderTests, IClassFixture<BaselinesSmallMnist>
{
    [Theory]
    [InlineData("lwf")]
    // The default λ = 0.05 multiplies a distance summed over the batch's samples x 800 features (the current model's
    // dropout against θ_old in eval mode), which swamps the cross-entropy of the MLP's new task in one epoch (27% on
    // task 1); the smallest value of the seed's grid shows the approach learning.
    [InlineData("lfl", "lamb", "5e-5")]
    [InlineData("imm-mean")]
    [InlineData("imm-mode")]
    [InlineData("progressive")]
    [InlineData("pathnet", "generations", "1")]
    public void TrainsBothMnist2Tasks(string approach, string? option = null, string? value = null)
    {
        var output = Path.Combine(Folder, "acc.txt");
        var record = ExperimentRunner.Run(new RunConfig
        {
            Experiment = "mnist2", Approach = approach, Seed = 0, DataDir = mnist.DataDir, Output = output, Epochs = 1,
            BatchSize = 16, // 34 steps in the one epoch of the small slice
            Parameters = option is null ? new Dictionary<string, string>() : new Dictionary<string, string> { [option] = value! },
        }, SilentObserver.Instance);

        Assert.Equal(2, record.TasksCompleted);
        Assert.True(File.Exists(output));
        // Five classes: chance is 20%.
        Assert.True(record.Accuracy[0][0] > 0.5, $"{approach}: task 0 test accuracy {record.Accuracy[0][0]:P1}");
        Assert.True(record.Accuracy[1][1] > 0.5, $"{approach}: task 1 test accuracy {record.Accuracy[1][1]:P1}");
        if (approach is "progressive" or "pathnet")
            Assert.Equal(record.Accuracy[0][0], record.Accuracy[1][0]); // task 0's column / path is frozen: no forgetting
    }
}
