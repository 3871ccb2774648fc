using System.IO.Compression;
using System.Text.Json.Nodes;
using Retain.Evaluation;
using Retain.Experiments;

namespace Retain.Tests;

/// <summary>
/// Result records and checkpoints edited by hand or damaged (a key missing, a null, a matrix of the wrong size, an
/// entry changed): every command that reads them stops with one line naming the file, exit code 2, before any
/// training; a complete record whose matrix is missing gives the matrix back.
/// </summary>
public class ResultFileDefectTests(BaselinesSmallMnist mnist) : TempFolderTests, IClassFixture<BaselinesSmallMnist>
{
    private string[] Run(string name, params string[] extra) =>
        ["run", "-e", "mnist2", "-a", "sgd", "--nepochs", "2", "--limit", "100", "--sbatch", "16", "--data", mnist.DataDir,
         "--output", Path.Combine(Folder, name + ".txt"), .. extra];

    private RunConfig Config(string name) => new()
    {
        Experiment = "mnist2", Approach = "sgd", DataDir = mnist.DataDir, Output = Path.Combine(Folder, name + ".txt"),
        Epochs = 2, Limit = 100, BatchSize = 16, CheckpointEvery = 0, Resume = true,
    };

    /// <summary>A whole record edited in each way a hand can break it, with the words of the error it must give.</summary>
    public static TheoryData<string, string> RecordDefects => new()
    {
        { "task_names=null", "\"task_names\" is missing or null" },
        { "-accuracy", "it lacks \"accuracy\"" },
        { "-history", "it lacks \"history\"" },
        { "accuracy=[[0.5]]", "\"accuracy\" must be a 2x2 matrix" },
        { "accuracy=[[0.5, 0], null]", "\"accuracy\" must be a 2x2 matrix" },
        { "accuracy=[[1.5, 0], [0.5, 0.5]]", "\"accuracy\"[0][0] = 1.5 is not an accuracy in [0,1]" },
        { "valid_accuracy=[[0.5, 0, 0], [0.5, 0.5, 0]]", "\"valid_accuracy\" must be a 2x2 matrix" },
        { "tasks_completed=7", "\"tasks_completed\" is 7, not between 0 and the 2 tasks" },
        { "class_counts=[5]", "\"class_counts\" must hold a positive class count for each of the 2 tasks" },
        { "accuracy_before_training=[0.1]", "\"accuracy_before_training\" has 1 values, the record has 2 tasks" },
        { "history=[null]", "\"history\"[0] must be an epoch" },
        { "training=null", "\"training\" is missing or null" },
        { "parameters={\"x\": null}", "holds a null" },
        { "identity={\"--lr\": null}", "\"identity\" holds a null" },
        { "identity=5", "invalid result JSON" },
        { "seed=\"zero\"", "invalid result JSON" },
    };

    private static void Edit(string json, string defect)
    {
        var record = JsonNode.Parse(File.ReadAllText(json))!.AsObject();
        if (defect.StartsWith('-')) record.Remove(defect[1..]);
        else
        {
            var (key, value) = (defect[..defect.IndexOf('=')], defect[(defect.IndexOf('=') + 1)..]);
            record[key] = JsonNode.Parse(value);
        }
        File.WriteAllText(json, record.ToJsonString());
    }

    [Theory]
    [MemberData(nameof(RecordDefects))]
    public void AnEditedRecordIsOneLineForEveryCommandThatReadsIt(string defect, string expected)
    {
        const string name = "mnist2_sgd_0";
        ExperimentRunner.Run(Config(name) with { Resume = false });
        var (json, txt) = (Path.Combine(Folder, name + ".json"), Path.Combine(Folder, name + ".txt"));
        var matrix = File.ReadAllText(txt);
        Edit(json, defect);
        foreach (var args in new[] { Run(name, "--resume"), ["report", txt, "-o", Path.Combine(Folder, "report")] })
        {
            var error = CliRunner.Refuses(args);
            Assert.StartsWith($"retain: error: {json}: ", error);
            Assert.Contains(expected, error);
        }
        Assert.Equal(matrix, File.ReadAllText(txt));
        Assert.False(Directory.Exists(Path.Combine(Folder, "report")));
    }

    [Theory]
    [InlineData("accuracy=[[0.5]]", "\"accuracy\" must be a 2x2 matrix")]
    [InlineData("tasks_completed=-1", "\"tasks_completed\" is -1")]
    [InlineData("accuracy_before_training=[0.5, \"NaN\"]", "\"accuracy_before_training\"[1] = NaN is not an accuracy in [0,1]")]
    [InlineData("agnostic={\"head\": {\"accuracy\": [[0.5]], \"task_accuracy\": [[1]]}}", "\"agnostic.head.accuracy\" must be a 2x2 matrix")]
    public void MetricsReadTheFieldsTheyUseCheckedAsEveryReaderDoes(string defect, string expected)
    {
        const string name = "mnist2_sgd_0";
        ExperimentRunner.Run(Config(name) with { Resume = false });
        Edit(Path.Combine(Folder, name + ".json"), defect);
        var error = CliRunner.Refuses("metrics", Path.Combine(Folder, name + ".txt"));
        Assert.StartsWith($"retain: error: {Path.Combine(Folder, name + ".json")}: ", error);
        Assert.Contains(expected, error);
    }

    [Fact]
    public void AResumeOfACompleteRunComparesTheOptionsItsRecordKept()
    {
        ExperimentRunner.Run(Config("kept") with { Resume = false });
        var json = Path.Combine(Folder, "kept.json");
        // Another scenario than the record's task-IL (which the identity leaves unnamed) is refused.
        var error = CliRunner.Refuses(Run("kept", "--resume", "--scenario", "class"));
        Assert.Contains($"--resume: --scenario is class here but task in the complete run {json}", error);
        // An option the record does not name (one added to Retain after it was written) is not held against it.
        Assert.Contains("--resume: --lr is 0.5 here", CliRunner.Refuses(Run("kept", "--resume", "--lr", "0.5")));
        var record = JsonNode.Parse(File.ReadAllText(json))!.AsObject();
        Assert.True(record["identity"]!.AsObject().Remove("--lr"));
        File.WriteAllText(json, record.ToJsonString());
        var result = CliRunner.Run(Run("kept", "--resume", "--lr", "0.5"));
        Assert.True(result.Code == 0, result.Printed);
        Assert.Contains("nothing to resume", result.Printed);
    }

    [Fact]
    public void AResumeOfACompleteRecordWithoutItsMatrixWritesTheMatrixAgain()
    {
        ExperimentRunner.Run(Config("run") with { Resume = false });
        var matrix = Path.Combine(Folder, "run.txt");
        var expected = File.ReadAllText(matrix);
        File.Delete(matrix);
        var result = CliRunner.Run(Run("run", "--resume"));
        Assert.Equal(0, result.Code);
        Assert.Contains($"{matrix} was missing: written again from {Path.Combine(Folder, "run.json")}", result.Output);
        Assert.Equal(expected, File.ReadAllText(matrix));
        Assert.DoesNotContain("train loss", result.Output);
    }

    /// <summary>A checkpoint after task 0, written by the run itself.</summary>
    private string Checkpoint()
    {
        var config = Config("run");
        var stop = new InterruptAt(taskTested: 0);
        var plan = RunPlan.Resolve(config);
        Assert.Throws<RunInterruptedException>(() => ExperimentRunner.Run(plan, [.. plan.FileSinks(), stop], stop.Interruption));
        var checkpoint = CheckpointFile.PathFor(config.Output);
        Assert.True(File.Exists(checkpoint));
        return checkpoint;
    }

    /// <summary>Rewrites one entry of the zip as <paramref name="change"/> makes it (null: removes it), checksums untouched.</summary>
    private static void EditEntry(string checkpoint, string entryName, Func<byte[], byte[]?> change)
    {
        using var zip = ZipFile.Open(checkpoint, ZipArchiveMode.Update);
        var entry = zip.GetEntry(entryName) ?? zip.Entries.First(e => e.FullName.StartsWith(entryName, StringComparison.Ordinal));
        byte[] bytes;
        using (var stream = entry.Open())
        using (var copy = new MemoryStream())
        {
            stream.CopyTo(copy);
            bytes = copy.ToArray();
        }
        var name = entry.FullName;
        entry.Delete();
        if (change(bytes) is not { } changed) return;
        using var target = zip.CreateEntry(name).Open();
        target.Write(changed);
    }

    private static byte[] EditValues(byte[] values, Action<JsonObject> edit)
    {
        var json = JsonNode.Parse(values)!.AsObject();
        edit(json);
        return System.Text.Encoding.UTF8.GetBytes(json.ToJsonString());
    }

    public static TheoryData<string> CheckpointDefects => new()
    {
        "values: a key removed", "values: a null", "values: a matrix of the wrong size", "a tensor truncated",
        "no checksums", "not a zip", "a folder",
    };

    [Theory]
    [MemberData(nameof(CheckpointDefects))]
    public void AnEditedOrDamagedCheckpointIsRefusedBeforeAnyTraining(string defect)
    {
        var checkpoint = Checkpoint();
        switch (defect)
        {
            case "values: a key removed": EditEntry(checkpoint, "values.json", v => EditValues(v, j => j.Remove("run/next_task"))); break;
            case "values: a null": EditEntry(checkpoint, "values.json", v => EditValues(v, j => j["run/record"]!["task_names"] = null)); break;
            case "values: a matrix of the wrong size": EditEntry(checkpoint, "values.json", v => EditValues(v, j => j["run/record"]!["accuracy"] = JsonNode.Parse("[[0.5]]"))); break;
            case "a tensor truncated": EditEntry(checkpoint, "tensors/", t => t[..(t.Length / 2)]); break;
            case "no checksums": EditEntry(checkpoint, "checksums.json", _ => null); break;
            case "not a zip": File.WriteAllText(checkpoint, "{\"run/next_task\": 1}"); break;
            case "a folder": File.Delete(checkpoint); Directory.CreateDirectory(checkpoint); break;
        }
        var result = CliRunner.Run(Run("run", "--resume"));
        Assert.Equal(2, result.Code);
        var error = Assert.Single(result.Error.TrimEnd().Split('\n'));
        Assert.Contains(checkpoint, error);
        Assert.DoesNotContain("train loss", result.Output);
    }
}
