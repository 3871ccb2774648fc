using System.Globalization;
using Retain.Reports;
using static Retain.Tests.ReportFixtures;

namespace Retain.Tests;

/// <summary>
/// <c>retain report</c> on small result files written here: the CSV against hand-computed values, the PNGs' sizes and
/// content, a study's grid, and notes (not errors) for partial runs, missing references and single seeds.
/// </summary>
public class ReportTests : TempFolderTests
{
    // Student t quantile t_{0.975, 1} for two seeds (half-width = t · std / sqrt(2), std with divisor 2).
    private const double T1 = 12.7062047;

    private sealed record Row(double Value, double HalfWidth, int Seeds);

    /// <summary>report.csv by (figure, series, panel, x, y).</summary>
    private static Dictionary<(string, string, string, string, string), Row> ReadCsv(string path)
    {
        var lines = File.ReadAllLines(path);
        Assert.Equal(PlottedValues.Header, lines[0]);
        static double Number(string text) => text.Length == 0 ? double.NaN : double.Parse(text, CultureInfo.InvariantCulture);
        return lines.Skip(1).Select(l => l.Split(',')).ToDictionary(
            c => (c[0], c[2], c[3], c[4], c[5]), c => new Row(Number(c[6]), Number(c[7]), int.Parse(c[8], CultureInfo.InvariantCulture)));
    }

    private static void Expect(Dictionary<(string, string, string, string, string), Row> csv, string figure, string series, string panel,
        string x, double value, double halfWidth, int seeds, string y = "")
    {
        Assert.True(csv.TryGetValue((figure, series, panel, x, y), out var row), $"no CSV row {figure}, {series}, {panel}, x {x}, y {y}");
        Assert.Equal(value, row.Value, 4);
        if (double.IsNaN(halfWidth)) Assert.True(double.IsNaN(row.HalfWidth), $"{figure} {series} {panel} {x}: a half-width for one seed");
        else Assert.Equal(halfWidth, row.HalfWidth, 4);
        Assert.Equal(seeds, row.Seeds);
    }

    [Fact]
    public void TaskAgnosticResultsArePlottedBesideTheAwareOnes()
    {
        WriteThreeTasks(Folder);
        // ewc seed 0 also evaluated without the task id: its own predictor (max-prob) and the entropy one.
        var record = Path.Combine(Folder, "exp3_ewc_0.json");
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(record))!.AsObject();
        double[][] agnostic = [[0.9, 0, 0], [0.4, 0.6, 0], [0.3, 0.5, 0.6]], taskRight = [[1, 0, 0], [0.5, 0.7, 0], [0.4, 0.6, 0.8]];
        json["agnostic"] = System.Text.Json.JsonSerializer.SerializeToNode(new Dictionary<string, object>
        {
            ["max-prob"] = new { accuracy = agnostic, task_accuracy = taskRight },
            ["entropy"] = new { accuracy = Ewc0, task_accuracy = JointRun },
        });
        json["agnostic_predictor"] = "max-prob";
        File.WriteAllText(record, json.ToJsonString());

        var (code, printed) = RetainCli("report", Folder);
        Assert.True(code == 0, printed);
        var csv = ReadCsv(Path.Combine(Folder, "report", Report.CsvName));
        // With the task given: Ewc0's averages 0.9, (0.85 + 0.8)/2 = 0.825, (0.8 + 0.75 + 0.9)/3 = 0.8167.
        Expect(csv, "task_agnostic", "ewc", "task given", "2", 82.5, double.NaN, 1);
        // Predicted (max-prob, not entropy): 0.9, (0.4 + 0.6)/2 = 0.5, (0.3 + 0.5 + 0.6)/3 = 0.4667.
        Expect(csv, "task_agnostic", "ewc", "task predicted", "1", 90, double.NaN, 1);
        Expect(csv, "task_agnostic", "ewc", "task predicted", "3", 46.6667, double.NaN, 1);
        Expect(csv, "summary", "ewc", "acc-agnostic", "", 46.6667, double.NaN, 1);
        // Task predicted right after the last task: (0.4 + 0.6 + 0.8)/3 = 60%.
        Expect(csv, "summary", "ewc", "task-predicted", "", 60, double.NaN, 1);
        Assert.True(File.Exists(Path.Combine(Folder, "report", "exp3_task_agnostic.png")));
    }

    [Fact]
    public void CsvHoldsTheNumbersPlottedAsComputedByHand()
    {
        WriteThreeTasks(Folder);
        var (code, printed) = RetainCli("report", Folder);
        Assert.True(code == 0, printed);
        var csv = ReadCsv(Path.Combine(Folder, "report", Report.CsvName));

        // Figure 5, task 1 after task 1: sgd's seeds 0.90 and 0.80 → 85%; std (divisor 2) 0.05, so the half-width is
        // T1 · 0.05 / √2 = 0.449232 → 44.9232%. Task 2 after task 3: 0.70 and 0.80 → 75%, the same half-width.
        Expect(csv, "accuracy", "sgd", "task 1: a", "1", 85, 44.9232, 2);
        Expect(csv, "accuracy", "sgd", "task 2: b", "3", 75, 44.9232, 2);
        // Average over the tasks learnt: after task 2 seed 0 (0.70 + 0.80)/2 = 0.75, seed 1 (0.60 + 0.90)/2 = 0.75 → 75 ± 0;
        // after task 3 seed 0 (0.6 + 0.7 + 0.9)/3 = 0.7333, seed 1 (0.5 + 0.8 + 0.7)/3 = 0.6667 → 70%, std 1/30, half-width 29.9488%.
        Expect(csv, "accuracy", "sgd", "average over tasks learnt", "2", 75, 0, 2);
        Expect(csv, "accuracy", "sgd", "average over tasks learnt", "3", 70, 29.9488, 2);
        // ewc, one seed: (0.80 + 0.75 + 0.90)/3 = 81.6667%, no interval. The references are drawn too: joint 100%.
        Expect(csv, "accuracy", "ewc", "average over tasks learnt", "3", 81.6667, double.NaN, 1);
        Expect(csv, "accuracy", "joint", "task 1: a", "3", 100, 0, 2);

        // Figure 6: ρ≤t = 2 mean_u A[t,u] − 2 (random diagonal 0.5, joint 1). sgd seed 0: −0.2, −0.5, −0.5333;
        // seed 1: −0.4, −0.5, −0.6667 → −0.3 ± T1·0.1/√2 = 0.898464; −0.5 ± 0; −0.6 ± T1·(1/15)/√2 = 0.598976.
        Expect(csv, "forgetting_ratio", "sgd", "", "1", -0.3, 0.898464, 2);
        Expect(csv, "forgetting_ratio", "sgd", "", "2", -0.5, 0, 2);
        Expect(csv, "forgetting_ratio", "sgd", "", "3", -0.6, 0.598976, 2);
        // ewc: 2·0.9 − 2 = −0.2; 2·0.825 − 2 = −0.35; 2·0.81667 − 2 = −0.36667.
        Expect(csv, "forgetting_ratio", "ewc", "", "2", -0.35, double.NaN, 1);
        Expect(csv, "forgetting_ratio", "ewc", "", "3", -0.366667, double.NaN, 1);
        Assert.DoesNotContain(csv.Keys, k => k.Item1 == "forgetting_ratio" && k.Item2 is "joint" or "random");

        // Accuracy matrix (x: task tested, y: after task): sgd on task 1 after task 3, (0.6 + 0.5)/2 = 55 ± 44.9232.
        Expect(csv, "accuracy_matrix", "sgd", "", "1", 55, 44.9232, 2, y: "3");

        // Summary: ACC is the average after the last task (70 ± 29.9488, as in figure 5's last panel). BWT: seed 0
        // ((0.6 − 0.9) + (0.7 − 0.8))/2 = −0.2, seed 1 ((0.5 − 0.8) + (0.8 − 0.9))/2 = −0.2 → −20% ± 0. FWT: only seed 0 has
        // the accuracies before training: ((0.6 − 0.5) + (0.45 − 0.5))/2 = 2.5%. ρ after the last task −0.6 ± 0.598976;
        // ρ mean over t: seed 0 −1.2333/3 = −0.41111, seed 1 −1.5667/3 = −0.52222 → −0.46667 ± T1·(1/18)/√2 = 0.499147.
        // Valid ACC: seed 0's record, (0.6 + 0.7 + 0.8)/3 = 70%.
        Expect(csv, "summary", "sgd", "acc", "", 70, 29.9488, 2);
        Expect(csv, "summary", "sgd", "bwt", "", -20, 0, 2);
        Expect(csv, "summary", "sgd", "fwt", "", 2.5, double.NaN, 1);
        Expect(csv, "summary", "sgd", "rho", "", -0.6, 0.598976, 2);
        Expect(csv, "summary", "sgd", "rho-mean", "", -0.466667, 0.499147, 2);
        Expect(csv, "summary", "sgd", "valid-acc", "", 70, double.NaN, 1);

        // Learning curves of ewc seed 0 (History: learning rate 0.05/(1 + i % 2), valid loss 2.1 − 0.1 i at epoch i
        // from 0, plotted at i + 1; kept models at epochs 2, 3, 6); its scalar is 10 i.
        Expect(csv, "learning_curves", "exp3_ewc_0", "learning rate", "2", 0.025, double.NaN, 1);
        Expect(csv, "learning_curves", "exp3_ewc_0", "valid loss", "6", 1.6, double.NaN, 1);
        Expect(csv, "learning_curves", "exp3_ewc_0", "ewc/penalty", "5", 40, double.NaN, 1);
        Assert.Equal(["2", "3", "6"], csv.Keys.Where(k => k.Item2 == "exp3_ewc_0" && k.Item3 == "kept epoch (valid loss)").Select(k => k.Item4));
        Expect(csv, "learning_curves", "exp3_ewc_0", "kept epoch (valid loss)", "3", 1.9, double.NaN, 1);
    }

    [Fact]
    public void EachFigureHasItsSizeAndIsDrawn()
    {
        WriteThreeTasks(Folder);
        var sources = ReportInputs.Resolve([Folder], _ => throw new InvalidOperationException("no study here"));
        var result = Report.Write(sources, Path.Combine(Folder, "out"), SummaryMetric.Named("acc"), "test");

        // Figure 5: 3 task panels + the average in rows of 3 (2 rows of 300 px, 380 px a panel) over a legend strip of
        // 24 + 30 px for up to five series (sgd, ewc, joint, random). Matrices: 300 + 64·3 wide, 180 + 64·3 high.
        var expected = new Dictionary<string, (int, int)>
        {
            ["exp3_accuracy.png"] = (1140, 654), ["exp3_forgetting.png"] = (900, 500),
            ["exp3_matrix_sgd.png"] = (492, 372), ["exp3_matrix_ewc.png"] = (492, 372), ["exp3_matrix_joint.png"] = (492, 372), ["exp3_matrix_random.png"] = (492, 372),
            ["exp3_sgd_0_curves.png"] = (1100, 900), ["exp3_ewc_0_curves.png"] = (1100, 900), ["exp3_ewc_0_scalars.png"] = (1100, 300),
        };
        Assert.Equal(expected.Keys.Order(), result.Figures.Select(f => Path.GetFileName(f.Path)).Order());
        foreach (var figure in result.Figures)
        {
            using var image = ImageChecks.Load(figure.Path);
            Assert.Equal(expected[Path.GetFileName(figure.Path)], (image.Width, image.Height));
            Assert.Equal((figure.Width, figure.Height), (image.Width, image.Height));
            // Lines, bands, text and colour maps: far more than a blank or single-line image.
            Assert.True(ImageChecks.CountColours(image) > 50, $"{figure.Path}: only {ImageChecks.CountColours(image)} colours");
        }
        // Figure 5's panels hold drawings: the first task's (top left) and the average's (first of row 2).
        using var accuracy = ImageChecks.Load(Path.Combine(Folder, "out", "exp3_accuracy.png"));
        Assert.True(ImageChecks.CountColours(accuracy, new SkiaSharp.SKRectI(60, 40, 370, 260)) > 20);
        Assert.True(ImageChecks.CountColours(accuracy, new SkiaSharp.SKRectI(60, 340, 370, 560)) > 20);
    }

    [Fact]
    public void PartialRunsMissingReferencesAndSingleSeedsAreNotesNotErrors()
    {
        // sgd: seed 0 complete, seed 1 stopped after 2 of 3 tasks (left out of the means). lwf: one seed, partial
        // (its record says 3 tasks, 2 done), and both lwf and sgd of seed 1 lack references (only seed 0's exist).
        Matrix(Folder, "exp3_sgd_0", Sgd0);
        Matrix(Folder, "exp3_sgd_1", [[0.8, 0, 0], [0.6, 0.9, 0], [0, 0, 0]]);
        Matrix(Folder, "exp3_lwf_1", [[0.7, 0, 0], [0.6, 0.8, 0], [0, 0, 0]]);
        Record(Folder, "exp3_lwf_1", [[0.7, 0, 0], [0.6, 0.8, 0], [0, 0, 0]], [0.1, 0.4, 0], [[0.7, 0, 0], [0.6, 0.8, 0], [0, 0, 0]], History(null)[..4]);
        Matrix(Folder, "exp3_random_0", RandomRun);
        Matrix(Folder, "exp3_joint_0", JointRun);

        var (code, printed) = RetainCli("report", Folder, "--output", Path.Combine(Folder, "out"));
        Assert.True(code == 0, printed);
        var page = File.ReadAllText(Path.Combine(Folder, "out", Report.PageName));
        foreach (var note in new[]
        {
            "exp3_sgd_1: completed 2 of 3 tasks, fewer than the other seeds&#39; 3; left out of sgd&#39;s means (a partial run)",
            "lwf: partial run, 2 of 3 tasks so far",
            "sgd: a single seed (0), so no confidence interval",
            $"{Path.Combine(Folder, "exp3_joint_1.txt")} is missing (make it with: retain run --experiment exp3 --approach joint --seed 1",
            "lwf: no forgetting ratio ρ and no FWT (no usable random and joint references)",
        })
        {
            Assert.Contains(note, page);
            Assert.Contains(System.Net.WebUtility.HtmlDecode(note), printed);
        }
        // lwf is drawn over its 2 tasks; sgd's ρ is seed 0's alone.
        var csv = ReadCsv(Path.Combine(Folder, "out", Report.CsvName));
        Expect(csv, "accuracy", "lwf", "average over tasks learnt", "2", 70, double.NaN, 1);
        Expect(csv, "forgetting_ratio", "sgd", "", "3", 2 * (2.2 / 3) - 2, double.NaN, 1);
        Assert.DoesNotContain(csv.Keys, k => k.Item1 == "forgetting_ratio" && k.Item2 == "lwf");
    }

    [Fact]
    public void WithoutAnyReferencesThePageSaysWhyThereIsNoForgettingRatio()
    {
        Matrix(Folder, "exp3_sgd_0", Sgd0);
        var (code, printed) = RetainCli("report", Path.Combine(Folder, "exp3_sgd_0.txt"));
        Assert.True(code == 0, printed);
        var page = File.ReadAllText(Path.Combine(Folder, "report", Report.PageName));
        Assert.Contains("No forgetting-ratio figure: no run has usable random and joint references", page);
        Assert.Contains("No JSON record beside the accuracy matrix: no learning curves.", page);
        Assert.False(File.Exists(Path.Combine(Folder, "report", "exp3_forgetting.png")));
    }

    [Fact]
    public void StudyGridIsAHeatMapOfTheMetricWithTheValidationChoiceOutlined()
    {
        var study = Path.Combine(Folder, "grid.yaml");
        File.WriteAllText(study, """
            name: grid
            output: out
            experiments: [mnist2]
            seeds: 2
            options: {nepochs: 1}
            approaches:
              hat: {grid: {lamb: [0.5, 1], smax: [200, 400]}}
            """);
        var output = Directory.CreateDirectory(Path.Combine(Folder, "out")).FullName;
        // Per point and seed: A = [[0.9, 0], [x, 0.9]], so ACC = (x + 0.9)/2; validation after the last task [v, 0.9].
        var points = new (string Label, double[] X, double V)[]
        {
            ("lamb-0.5_smax-200", [0.5, 0.7], 0.5), // ACC 0.70 and 0.80 → 75 ± T1·0.05/√2 = 44.9232
            ("lamb-0.5_smax-400", [0.6, 0.6], 0.9), // 75 ± 0; the best validation accuracy, (0.9 + 0.9)/2 = 90%
            ("lamb-1_smax-200", [0.7, 0.9], 0.5),   // 0.80 and 0.90 → 85 ± 44.9232: the best test accuracy, not chosen
            ("lamb-1_smax-400", [0.3, 0.5], 0.5),   // 0.60 and 0.70 → 65 ± 44.9232
        };
        string[] tasks = ["mnist-0-4", "mnist-5-9"];
        for (var seed = 0; seed < 2; seed++)
        {
            foreach (var (label, x, v) in points)
            {
                double[][] accuracy = [[0.9, 0], [x[seed], 0.9]];
                Matrix(output, $"mnist2_hat_{seed}_{label}", accuracy);
                Record(output, $"mnist2_hat_{seed}_{label}", accuracy, [0.5, 0.5], [[0.9, 0], [v, 0.9]], History(null)[..4], tasks: tasks);
            }
            Matrix(output, $"mnist2_random_{seed}", [[0.5, 0], [0.5, 0.5]]);
            Matrix(output, $"mnist2_joint_{seed}", [[1, 0], [1, 1]]);
        }

        var (code, printed) = RetainCli("report", study);
        Assert.True(code == 0, printed);
        Assert.Contains("hat: 4 grid points or names; the figures show hat lamb-0.5_smax-400, best by mean final validation accuracy (90.00%), the table lists all", printed);
        var report = Path.Combine(output, "report");
        var csv = ReadCsv(Path.Combine(report, Report.CsvName));
        Expect(csv, "grid", "hat lamb-0.5_smax-200", "acc", "0.5", 75, 44.9232, 2, y: "200");
        Expect(csv, "grid", "hat lamb-0.5_smax-400", "acc", "0.5", 75, 0, 2, y: "400");
        Expect(csv, "grid", "hat lamb-1_smax-200", "acc", "1", 85, 44.9232, 2, y: "200");
        Expect(csv, "grid", "hat lamb-1_smax-400", "acc", "1", 65, 44.9232, 2, y: "400");
        // Only the chosen point is in the figures that compare approaches.
        Assert.Equal(["hat lamb-0.5_smax-400", "joint", "random"], csv.Keys.Where(k => k.Item1 == "accuracy").Select(k => k.Item2).Distinct().Order());
        // Two columns and two rows: 300 + 120·2 by 180 + 80·2 pixels.
        using var grid = ImageChecks.Load(Path.Combine(report, "mnist2_grid_hat.png"));
        Assert.Equal((540, 340), (grid.Width, grid.Height));
        Assert.True(ImageChecks.CountColours(grid) > 50);

        // Another metric, on request.
        (code, printed) = RetainCli("report", study, "--grid-metric", "valid-acc");
        Assert.True(code == 0, printed);
        Expect(ReadCsv(Path.Combine(report, Report.CsvName)), "grid", "hat lamb-0.5_smax-400", "valid-acc", "0.5", 90, 0, 2, y: "400");
    }

    [Fact]
    public void BadInputIsOneLineAndExitCode2()
    {
        var empty = Directory.CreateDirectory(Path.Combine(Folder, "empty")).FullName;
        File.WriteAllText(Path.Combine(empty, "notes.txt"), "not a result");
        var malformed = Path.Combine(Folder, "exp3_sgd_0.txt");
        File.WriteAllText(malformed, "0.9 0\n0.8\n");
        WriteThreeTasks(Directory.CreateDirectory(Path.Combine(Folder, "good")).FullName);
        foreach (var (args, message) in new[]
        {
            (new[] { "report", empty }, $"retain: error: {empty}: no result file (<experiment>_<approach>_<seed>[_<name>].txt) in this folder"),
            (["report", malformed], $"retain: error: {malformed}: row 2 has 1 values, a 2x2 accuracy matrix needs 2"),
            (["report", Path.Combine(Folder, "none.txt")], $"retain: error: {Path.Combine(Folder, "none.txt")}: file not found"),
            (["report", Path.Combine(Folder, "good"), "--grid-metric", "best"], "retain: error: --grid-metric: expected one of acc, bwt, fwt, rho, rho-mean, valid-acc, acc-agnostic, task-predicted (got 'best')"),
        })
        {
            var (code, printed) = RetainCli(args);
            Assert.Equal(2, code);
            Assert.Equal(message, printed.Trim());
        }
    }
}
