using Retain.Cli;
using Retain.Studies;

namespace Retain.Tests;

/// <summary>Study files: expansion into runs with stable names, grids as products and zips, and errors naming the line.</summary>
public class StudyFileTests : TempFolderTests
{
    private Study Read(string yaml)
    {
        var path = Path.Combine(Folder, "study.yaml");
        File.WriteAllText(path, yaml);
        return Study.Load(path, RunCommand.OptionNames);
    }

    private string Error(string yaml) => Assert.ThrowsAny<RetainException>(() => Read(yaml)).Message;

    /// <summary>A study with a grid and a zip, two experiments and two seeds (the fuzz tests start from it too).</summary>
    internal const string GridStudy = """
        name: grid
        output: out
        experiments: [mnist2, pmnist]
        seeds: 2
        options: {nepochs: 3, limit: 200}
        approaches:
          sgd: {}
          hat:
            smax: 400
            grid: {lamb: [0.5, 1], thres-emb: [6, 4]}
          ewc:
            zip: {lamb: [100, 1000], fisher-merge: [mean, sum]}

        """;

    [Fact]
    public void ExpandsExperimentsApproachesGridPointsAndSeedsWithTheReferences()
    {
        var study = Read(GridStudy);
        var output = Path.Combine(Folder, "out");
        Assert.Equal(output, study.Output);
        // Per experiment and seed: sgd, 4 hat points, 2 zipped ewc points, joint, random.
        Assert.Equal(2 * 2 * (1 + 4 + 2 + 2), study.Runs.Count);
        var names = study.Runs.Where(r => r is { Experiment: "mnist2", Seed: 1 }).Select(r => r.Name).ToArray();
        Assert.Equal([
            "mnist2_sgd_1",
            "mnist2_hat_1_lamb-0.5_thres-emb-6", "mnist2_hat_1_lamb-0.5_thres-emb-4", "mnist2_hat_1_lamb-1_thres-emb-6", "mnist2_hat_1_lamb-1_thres-emb-4",
            "mnist2_ewc_1_lamb-100_fisher-merge-mean", "mnist2_ewc_1_lamb-1000_fisher-merge-sum",
            "mnist2_joint_1", "mnist2_random_1",
        ], names);
        var hat = study.Runs.First(r => r.Name == "mnist2_hat_1_lamb-1_thres-emb-4");
        Assert.Equal(Path.Combine(output, "mnist2_hat_1_lamb-1_thres-emb-4.txt"), hat.Output);
        Assert.Equal(["run", "--experiment", "mnist2", "--approach", "hat", "--seed", "1", "--output", hat.Output,
            "--nepochs", "3", "--limit", "200", "--smax", "400", "--lamb", "1", "--thres-emb", "4", "--resume"], hat.Arguments);
        // References get the shared options only.
        Assert.Equal(["nepochs", "limit"], study.Runs.First(r => r.Name == "pmnist_joint_0").Options.Select(o => o.Name));
    }

    [Fact]
    public void ExplicitRunsAreTheLinesOfAScriptAndMayOverrideSharedOptions()
    {
        var study = Read("""
            name: script
            experiments: [mnist2]
            seeds: [0]
            options: {nepochs: 200, weight-init: "kaiming:xavier"}
            runs:
              - {approach: dwa}
              - {approach: dwa, name: short, nepochs: 20, lamb_loss: [20, 0.05], gate: tanh}
            references: false
            """);
        Assert.Equal(["mnist2_dwa_0", "mnist2_dwa_0_short"], study.Runs.Select(r => r.Name));
        var options = study.Runs[1].Options.ToDictionary(o => o.Name, o => o.Value);
        Assert.Equal("20", options["nepochs"]);
        Assert.Equal("20,0.05", options["lamb_loss"]);
        Assert.Equal("kaiming:xavier", options["weight-init"]);
        Assert.Equal(Path.GetFullPath(Path.Combine("res", "script")), study.Output);
    }

    [Theory]
    [InlineData("name: x\nexperiments: [mnist2]\nseeds: 1\napproaches: {sgd: {}}\ncolour: red\n", "line 5: unknown key 'colour'")]
    [InlineData("name: x\nexperiments: []\nseeds: 1\napproaches: {sgd: {}}\n", "line 2: 'experiments' is an empty list")]
    [InlineData("name: x\nexperiments: [mnist2]\nseeds: 1\napproaches:\n  sgd: {lamb: 3}\n", "line 5: 'lamb' is not an option of retain run, and sgd has no options of its own")]
    [InlineData("name: x\nexperiments: [mnist2]\nseeds: 1\napproaches:\n  ewc:\n    grid: {lamb: []}\n", "line 6: 'lamb' is an empty list")]
    [InlineData("name: x\nexperiments: [mnist2]\nseeds: 1\napproaches:\n  ewc:\n    zip: {lamb: [1, 2], fisher-merge: [sum]}\n", "line 6: the lists under 'zip' must have one length")]
    [InlineData("name: x\nexperiments: [mnist2]\nseeds: 1\noptions: {lamb: 3}\napproaches: {ewc: {}}\n", "line 4: 'lamb' is not an option of retain run")]
    [InlineData("name: x\nexperiments: [mnist2]\nseeds: 1\napproaches: {sgd: {seed: 3}}\n", "line 4: 'seed' is set by the study")]
    [InlineData("name: x\nexperiments: [mnist2]\nseeds: 1\napproaches: {sdg: {}}\n", "line 4: unknown approach 'sdg'")]
    [InlineData("name: x\nseeds: 1\nexperiments:\n  - mnist2\n  - pmnsit\napproaches: {sgd: {}}\n", "line 5: unknown experiment 'pmnsit'")]
    [InlineData("name: x\nexperiments: [mnist2]\nseeds: 1\nruns:\n  - {approach: sgd}\n  - {approach: sgd}\n", "lines 5 and 6: two runs would write mnist2_sgd_0.txt")]
    [InlineData("name: x\nexperiments: [mnist2]\nseeds: [0, 0]\napproaches: {sgd: {}}\n", "line 3: a seed is listed twice")]
    [InlineData("name: x\nexperiments: [mnist2]\nseeds: 1\napproaches: {sgd: {}\n", "line 5: While parsing a flow mapping")]
    public void MistakesAreErrorsNamingTheLine(string yaml, string expected)
    {
        var message = Error(yaml);
        Assert.Contains("study.yaml: " + expected, message);
        Assert.DoesNotContain('\n', message);
    }
}

public class StudySummaryCsvTests
{
    [Fact]
    public void AGridLabelWithACommaStaysOneField()
    {
        var m = new Evaluation.MeanWithConfidence(0.5, 0.25, 3);
        var row = new Studies.SummaryRow("pmnist", "dwa", "lamb_loss-20,1.3", [0, 1, 2], 0, m, m, m, m, m) { Selected = true };
        var lines = Studies.StudySummary.Csv([row]).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("task,pmnist,dwa,\"lamb_loss-20,1.3\",0 1 2,0,0.5,0.25,0.5,0.25,0.5,0.25,0.5,0.25,0.5,0.25,yes", lines[1]);
    }
}
