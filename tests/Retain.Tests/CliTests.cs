using Retain.Cli;

namespace Retain.Tests;

public class CliTests
{
    private static (int Code, string Error) Run(params string[] args)
    {
        var error = new StringWriter();
        var saved = Console.Error;
        Console.SetError(error);
        try { return (RetainApp.Run(args), error.ToString()); }
        finally { Console.SetError(saved); }
    }

    [Theory]
    [InlineData("--experiment: unknown experiment 'nope'", "run", "--experiment", "nope", "--approach", "sgd")]
    [InlineData("--approach: unknown approach 'nope'", "run", "--experiment", "mnist2", "--approach", "nope")]
    [InlineData("--nepochs must be at least 1", "run", "--experiment", "mnist2", "--approach", "sgd", "--nepochs", "0")]
    [InlineData("--warmup", "run", "--experiment", "mnist2", "--approach", "sgd", "--warmup", "x")]
    [InlineData("--experiment is required", "run", "--approach", "sgd")]
    [InlineData("--device", "run", "--experiment", "mnist2", "--approach", "sgd", "--device", "tpu")]
    [InlineData("--network: expected mlp or alexnet", "run", "--experiment", "mnist2", "--approach", "sgd", "--network", "vgg")]
    [InlineData("--limit must be at least 1", "run", "--experiment", "mnist2", "--approach", "sgd", "--limit", "0")]
    [InlineData("error: --limit 1 is below the 5 classes of task mnist-0-4", "run", "--experiment", "mnist2", "--approach", "sgd", "--limit", "1")]
    [InlineData("bench: unknown benchmark 'nope'", "bench", "nope")]
    [InlineData("--lamb: not an option of sgd", "run", "--experiment", "mnist2", "--approach", "sgd", "--lamb", "3")]
    [InlineData("error: --lamb: needs a value", "run", "--experiment", "mnist2", "--approach", "ewc", "--lamb")]
    [InlineData("error: --nepochs: expected an integer (got 'abc')", "run", "-e", "mnist2", "-a", "sgd", "--nepochs", "abc")]
    [InlineData("error: --nepochs: expected an integer (got '1.5')", "run", "-e", "mnist2", "-a", "sgd", "--nepochs=1.5")]
    [InlineData("error: --seed: expected an integer (got 'x')", "run", "-e", "mnist2", "-a", "sgd", "--lr", "0.1", "--seed", "x")]
    [InlineData("error: --lr: expected a number (got 'fast')", "run", "-e", "mnist2", "-a", "sgd", "--lr:fast", "--limit", "slow")]
    [InlineData("error: --clipgrad: expected a number (got '1e')", "run", "-e", "mnist2", "-a", "sgd", "--clipgrad", "1e")]
    [InlineData("error: --lamb: expected a number (got 'big')", "compress", "-e", "mnist2", "--seed", "0,1", "--lamb", "big")]
    [InlineData("error: --sbatch: expected an integer (got '6.4')", "compress", "-e", "mnist2", "--sbatch", "6.4")]
    public void BadOptionsGiveOneLineAndExitCode2(string expected, params string[] args)
    {
        var (code, error) = Run(args);
        Assert.Equal(2, code);
        Assert.Contains(expected, error);
        Assert.Single(error.TrimEnd().Split('\n'));
    }

    [Fact]
    public void RunHelpRenders()
    {
        var output = new StringWriter();
        var console = Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings
        {
            Ansi = Spectre.Console.AnsiSupport.No, Out = new Spectre.Console.AnsiConsoleOutput(output),
        });
        Assert.Equal(0, RetainApp.Run(["run", "--help"], console));
        Assert.Contains("--experiment", output.ToString());
        Assert.Contains("_<name>", output.ToString());
    }

    [Fact]
    public void DataListSaysWhatIsPresentAndWhatEachDataSetExpects()
    {
        string List(string dir)
        {
            var output = new StringWriter();
            var console = Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings
            {
                Ansi = Spectre.Console.AnsiSupport.No, Out = new Spectre.Console.AnsiConsoleOutput(output),
            });
            Assert.Equal(0, RetainApp.Run(["data", "list", "--data", dir], console));
            return output.ToString();
        }
        var empty = List(TestSupport.TempDir());
        Assert.DoesNotContain("present  fetchable", empty);
        Assert.Contains("train_32x32.mat, test_32x32.mat", empty);
        var here = List(TestSupport.DataDir).Split('\n');
        Assert.Contains(here, line => line.Contains("fashion_mnist") && line.Contains("present  fetchable"));
        Assert.Contains(here, line => line.Contains("svhn") && line.Contains("missing  fetchable"));
    }

    [Fact]
    public void MissingDataNamesTheFolderAndTheFix()
    {
        var empty = TestSupport.TempDir();
        var output = Path.Combine(empty, "out.txt");
        var (code, error) = Run("run", "--experiment", "mnist2", "--approach", "sgd", "--data", empty, "--output", output);
        Assert.Equal(2, code);
        Assert.Contains("MNIST not found", error);
        Assert.False(File.Exists(output));
    }
}
