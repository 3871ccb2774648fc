using static Retain.Tests.ReportFixtures;

namespace Retain.Tests;

/// <summary>
/// What may be combined is decided in one place (<see cref="Evaluation.RunCompatibility"/>), and the study summary and
/// the report ask it as <c>retain metrics</c> does: a reference of another --limit does not normalise a run, and seeds
/// of another --limit are not averaged with the others.
/// </summary>
public class RunCompatibilityTests : TempFolderTests
{
    private static readonly double[][] Run = [[0.9, 0], [0.7, 0.8]];
    private static readonly double[][] Random = [[0.5, 0], [0.4, 0.5]];
    private static readonly double[][] Joint = [[1, 0], [1, 1]];

    private static void Results(string folder, string name, double[][] matrix, int? limit)
    {
        Matrix(folder, name, matrix);
        Record(folder, name, matrix, [0.1, 0.5], matrix, History(null)[..4], tasks: ["mnist-0-4", "mnist-5-9"], limit: limit);
    }

    [Fact]
    public void AStudySummaryRefusesReferencesOfAnotherLimitNamingTheOption()
    {
        // The approach's own limit is not the references' (they take only the shared options).
        var study = Path.Combine(Folder, "s.yaml");
        File.WriteAllText(study, "name: s\noutput: out\nexperiments: [mnist2]\nseeds: 1\napproaches:\n  sgd: {limit: 500}\n");
        var output = Directory.CreateDirectory(Path.Combine(Folder, "out")).FullName;
        Results(output, "mnist2_sgd_0", Run, limit: 500);
        Results(output, "mnist2_random_0", Random, limit: null);
        Results(output, "mnist2_joint_0", Joint, limit: null);
        Assert.Equal($"retain: error: {Path.Combine(output, "mnist2_random_0.json")}: reference run has --limit none, {Path.Combine(output, "mnist2_sgd_0.json")} has 500",
            CliRunner.Refuses("study", "summary", study));

        // References of the run's limit: the summary is written.
        Results(output, "mnist2_random_0", Random, limit: 500);
        Results(output, "mnist2_joint_0", Joint, limit: 500);
        Assert.Equal(0, CliRunner.Run("study", "summary", study).Code);
        Assert.True(File.Exists(Path.Combine(output, "summary.csv")));
    }

    [Fact]
    public void AReportLeavesASeedOfAnotherLimitOutOfTheMeansAndSaysWhy()
    {
        Results(Folder, "exp2_sgd_0", Run, limit: null);
        Results(Folder, "exp2_sgd_1", Run, limit: 500);
        var (code, printed) = RetainCli("report", Folder, "-o", Path.Combine(Folder, "report"));
        Assert.Equal(0, code);
        Assert.Contains($"note: exp2_sgd_1: left out of sgd's means ({Path.Combine(Folder, "exp2_sgd_1.json")}: seed has --limit 500, {Path.Combine(Folder, "exp2_sgd_0.json")} has none)", printed);
    }

    [Fact]
    public void AReportDoesNotNormaliseByAReferenceThatSaysItIsAnotherApproach()
    {
        Results(Folder, "exp2_sgd_0", Run, limit: null);
        Results(Folder, "exp2_random_0", Random, limit: null);
        // A joint run saved under the random reference's name, and the other way round.
        Results(Folder, "exp2_joint_0", Random, limit: null);
        var record = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(Folder, "exp2_random_0.json")))!;
        record["approach"] = "joint";
        File.WriteAllText(Path.Combine(Folder, "exp2_random_0.json"), record.ToJsonString());
        var (code, printed) = RetainCli("report", Folder, "-o", Path.Combine(Folder, "report"));
        Assert.Equal(0, code);
        Assert.Contains($"{Path.Combine(Folder, "exp2_random_0.json")}: the random reference's record says approach joint, not random: not used, so exp2_sgd_0 has no ρ or FWT", printed);
        Assert.Contains($"retain: error: {Path.Combine(Folder, "exp2_random_0.json")}: the random reference's record says approach joint, not random",
            CliRunner.Refuses("metrics", Path.Combine(Folder, "exp2_sgd_0.txt")));
    }
}
