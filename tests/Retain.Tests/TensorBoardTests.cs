using Retain.Experiments;

namespace Retain.Tests;

/// <summary>The TensorBoard sink's event files, read back record by record (TFRecord framing, TensorBoard's protobuf <c>Event</c>).</summary>
public class TensorBoardTests(BaselinesSmallMnist mnist) : TempFolderTests, IClassFixture<BaselinesSmallMnist>
{
    /// <summary>Every scalar of every event file in <paramref name="folder"/>: tag, step, value, wall time.</summary>
    private static List<(string Tag, long Step, float Value, double WallTime)> ReadScalars(string folder)
    {
        var scalars = new List<(string, long, float, double)>();
        foreach (var file in Directory.GetFiles(folder, "events.out.tfevents.*"))
        {
            using var reader = new BinaryReader(File.OpenRead(file));
            while (reader.BaseStream.Position < reader.BaseStream.Length)
            {
                var length = reader.ReadInt64();
                reader.ReadUInt32(); // masked CRC of the length
                var data = reader.ReadBytes((int)length);
                reader.ReadUInt32(); // masked CRC of the data
                var e = Tensorboard.Event.Parser.ParseFrom(data);
                if (e.Summary is null) continue;
                foreach (var v in e.Summary.Value) scalars.Add((v.Tag, e.Step, v.SimpleValue, e.WallTime));
            }
        }
        return scalars;
    }

    [Fact]
    public void EpochsTasksAndApproachScalarsAreWrittenAndReadBack()
    {
        var board = Path.Combine(Folder, "board");
        var started = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var record = ExperimentRunner.Run(new RunConfig
        {
            Experiment = "mnist2", Approach = "ewc", Seed = 0, DataDir = mnist.DataDir, Output = Path.Combine(Folder, "ewc.txt"),
            Epochs = 2, BatchSize = 32, Limit = 100, TensorBoard = board,
        });
        var finished = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var scalars = ReadScalars(board);

        foreach (var epoch in record.History)
        {
            float Value(string tag) => scalars.Single(s => s.Tag == $"t{epoch.Task}/{tag}" && s.Step == epoch.Epoch).Value;
            Assert.Equal((float)epoch.TrainLoss, Value("train/loss"));
            Assert.Equal((float)epoch.ValidAccuracy, Value("valid/acc"));
            Assert.Equal((float)epoch.LearningRate, Value("lr"));
            Assert.Equal((float)epoch.Scalars["ewc/penalty"], Value("ewc/penalty"));
        }
        // EWC's penalty is 0 while the first task trains and positive on the second.
        Assert.All(scalars.Where(s => s.Tag == "t0/ewc/penalty"), s => Assert.Equal(0f, s.Value));
        Assert.All(scalars.Where(s => s.Tag == "t1/ewc/penalty"), s => Assert.True(s.Value > 0));
        // After task t, the test accuracy of every task so far, at step t.
        for (var t = 0; t < 2; t++)
            for (var u = 0; u <= t; u++)
                Assert.Equal((float)record.Accuracy[t][u], scalars.Single(s => s.Tag == $"test/acc/t{u}" && s.Step == t).Value);
        Assert.Equal((float)(record.Accuracy[1][0] + record.Accuracy[1][1]) / 2, scalars.Single(s => s.Tag == "test/acc/mean" && s.Step == 1).Value, 6);
        Assert.All(scalars, s => Assert.InRange(s.WallTime, started - 1, finished + 1));
    }
}
