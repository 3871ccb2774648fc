using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Retain.Cli;
using Xunit.Abstractions;

namespace Retain.Tests;

/// <summary>
/// The docs cannot rot: every <c>./retain</c> command of README.md and docs/*.md (the lines of its <c>bash</c> blocks
/// and the commands in its tables) runs here through the CLI, trimmed to seconds by one rule per command form
/// (<see cref="Rules"/>). A page's commands run in order in one temporary folder, as a reader would type them, so
/// <c>retain metrics</c> finds the runs made above it. The README's size and every relative link are checked too.
/// </summary>
public partial class DocsCommandTests(ITestOutputHelper log)
{
    /// <summary>Samples kept per split and tasks trained by a trimmed run: one batch, and every class of every task here (at most 10), with test sets large enough that no reference scores 0 on a whole row (which would read as an unfinished run).</summary>
    private const string TrimmedLimit = "20", TrimmedTasks = "2";

    /// <summary>Experiments whose data the suite does not fetch: their runs must stop with the one-line missing-data error.</summary>
    private static readonly string[] DataByHand = ["cifar", "mixture"];

    /// <summary>What a trimmed command must do.</summary>
    private enum Expect
    {
        Success,
        /// <summary>exit 0 where the data is present, else exit 2 and one line naming the missing data set.</summary>
        SuccessOrMissingData,
        /// <summary>exit 0, or exit 2 and one line saying the study has no results yet (its runs are only dry-run here).</summary>
        SuccessOrNoStudyResultsYet,
        /// <summary>not run: the command is checked otherwise (see the rule).</summary>
        NotRun,
    }

    private sealed record Step(string[] Args, Expect Expect);

    /// <summary>
    /// How each command form runs in seconds. A command of a form not listed here fails the test: add its rule.
    /// </summary>
    private static readonly Dictionary<string, Func<string[], Step>> Rules = new()
    {
        // A run: one epoch (one generation of pathnet), at most 40 samples per split, the first two tasks.
        ["run"] = args => args.Contains("--help")
            ? new Step(args, Expect.Success)
            : new Step(TrimRun(args), MayMissData(args) ? Expect.SuccessOrMissingData : Expect.Success),
        // HAT's compression experiment: one epoch, at most 40 samples per split, the first seed of a list.
        ["compress"] = args => new Step(FirstSeed(AtMost(Set(args, "--nepochs", "1"), "--limit", TrimmedLimit)), MayMissData(args) ? Expect.SuccessOrMissingData : Expect.Success),
        ["dwa-terms"] = args => new Step(Set(args, "--limit", TrimmedLimit), Expect.Success),
        // Studies of many runs (and Slurm submissions): every run resolved as `retain run` would, none run.
        ["study run"] = args => new Step([.. args.Where(a => a != "--slurm"), "--dry-run"], Expect.Success),
        ["study status"] = args => new Step(args, Expect.Success),
        ["study summary"] = args => new Step(args, Expect.SuccessOrNoStudyResultsYet),
        ["report"] = args => new Step(args, args.Any(a => a.EndsWith(".yaml", StringComparison.Ordinal)) ? Expect.SuccessOrNoStudyResultsYet : Expect.Success),
        ["metrics"] = args => new Step(args, Expect.Success),
        ["inspect masks"] = args => new Step(args, Expect.Success),
        // An export of a run made above it on the page (the run itself is trimmed).
        ["export"] = args => new Step(args, Expect.Success),
        ["approaches"] = args => new Step(args, Expect.Success),
        ["data list"] = args => new Step(args, Expect.Success),
        ["data fetch"] = args => new Step(args, Expect.Success),
        // Benchmarks take minutes: the names are checked against the benchmarks there are, and the help runs.
        ["bench"] = args =>
        {
            var unknown = args.Skip(1).Where(a => !a.StartsWith('-') && !Benchmarks.Benchmarks.Names.Contains(a)).ToArray();
            Assert.True(unknown.Length == 0, $"bench: unknown benchmark(s) {string.Join(", ", unknown)}");
            return new Step(["bench", "--help"], Expect.Success);
        },
        // The test suite itself: what runs this test.
        ["test"] = args => new Step(args, Expect.NotRun),
    };

    /// <summary>Programs other than retain that the docs' bash blocks may show, and why they are not run here.</summary>
    private static readonly Dictionary<string, string> OtherPrograms = new()
    {
        ["tensorboard"] = "TensorBoard is not part of Retain; TensorBoardTests read the event files",
        ["dotnet"] = "the launcher-free form of ./retain; the suite itself is built and run with it",
        ["tools/slurm-cluster.sh"] = "the test Slurm cluster; SlurmClusterTests start and use it",
        ["tools/setup-chromium.sh"] = "installs Chromium; HeadlessChromiumTests call it",
        ["tools/setup-pytorch.sh"] = "installs Debian's PyTorch; PyTorchExportTests call it",
        ["export"] = "a shell variable for the Slurm commands",
    };

    public static TheoryData<string> Pages()
    {
        var pages = new TheoryData<string>();
        foreach (var page in PagePaths()) pages.Add(Path.GetRelativePath(TestSupport.RepositoryRoot, page));
        return pages;
    }

    private static IEnumerable<string> PagePaths() =>
        Directory.GetFiles(Path.Combine(TestSupport.RepositoryRoot, "docs"), "*.md").Order(StringComparer.Ordinal)
            .Prepend(Path.Combine(TestSupport.RepositoryRoot, "README.md"));

    [Theory]
    [MemberData(nameof(Pages))]
    public void EveryCommandOfThePageRuns(string page)
    {
        var markdown = File.ReadAllText(Path.Combine(TestSupport.RepositoryRoot, page));
        var folder = PrepareFolder();
        try
        {
            foreach (var (study, index) in Blocks(markdown, "yaml").Select((b, i) => (b, i)))
            {
                // A study shown in the docs must be a valid study: every run resolved, none run.
                var file = Path.Combine(folder, "studies", $"docs-example-{index}.yaml");
                File.WriteAllText(file, study);
                Check(page, folder, $"study run {file} (a yaml block)", new Step(["study", "run", file, "--dry-run"], Expect.Success));
            }
            foreach (var command in Commands(markdown))
            {
                var form = Form(command);
                Assert.True(Rules.TryGetValue(form, out var rule),
                    $"{page}: no trimming rule for `retain {form}` (in `{string.Join(' ', command.Prepend("./retain"))}`): add one to DocsCommandTests.Rules that makes it run in seconds");
                Check(page, folder, string.Join(' ', command), rule!(command));
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private void Check(string page, string folder, string shown, Step step)
    {
        if (step.Expect == Expect.NotRun)
        {
            log.WriteLine($"not run (the suite itself): {shown}");
            return;
        }
        var clock = Stopwatch.StartNew();
        var (code, output, error) = RunInFolder(folder, step.Args);
        log.WriteLine($"{clock.Elapsed.TotalSeconds,5:F1} s  exit {code}  retain {string.Join(' ', step.Args)}");
        var lines = error.Trim().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var allowed = step.Expect switch
        {
            Expect.SuccessOrMissingData => code == 0 || (code == 2 && lines.Length == 1 && lines[0].Contains("missing data set", StringComparison.Ordinal)),
            Expect.SuccessOrNoStudyResultsYet => code == 0 || (code == 2 && lines.Length == 1 && lines[0].Contains(" yet", StringComparison.Ordinal)),
            _ => code == 0,
        };
        Assert.True(allowed, $"{page}: `./retain {shown}`, run as `retain {string.Join(' ', step.Args)}`, exited {code}:\n{error}\n{Tail(output)}");
    }

    /// <summary>
    /// A fresh folder like a checkout's root: the data folder as <c>dat</c> (benchmark files name their files under
    /// it), the shipped studies, and every benchmark file the docs describe in a <c>json</c> block, as its name.
    /// </summary>
    private static string PrepareFolder()
    {
        var folder = TestSupport.TempDir();
        Directory.CreateSymbolicLink(Path.Combine(folder, "dat"), TestSupport.DataDir);
        var studies = Directory.CreateDirectory(Path.Combine(folder, "studies")).FullName;
        foreach (var file in Directory.GetFiles(Path.Combine(TestSupport.RepositoryRoot, "studies"), "*.yaml"))
            File.Copy(file, Path.Combine(studies, Path.GetFileName(file)));
        foreach (var page in PagePaths())
            foreach (var json in Blocks(File.ReadAllText(page), "json"))
                if (JsonDocument.Parse(json).RootElement.TryGetProperty("name", out var name))
                    File.WriteAllText(Path.Combine(folder, name.GetString() + ".json"), json);
        return folder;
    }

    /// <summary>Runs the CLI in this process with <paramref name="folder"/> as the current directory (the tests run one at a time).</summary>
    private static (int Code, string Output, string Error) RunInFolder(string folder, string[] args)
    {
        var result = CliRunner.RunIn(folder, args);
        return (result.Code, result.Output, result.Error);
    }

    private static string Tail(string text) => string.Join('\n', text.Split('\n').TakeLast(15));

    // ---- trimming ----

    private static string[] TrimRun(string[] args)
    {
        var trimmed = Set(args, "--nepochs", "1");
        if (trimmed.Contains("--generations")) trimmed = Set(trimmed, "--generations", "1");
        trimmed = AtMost(trimmed, "--limit", TrimmedLimit);
        return AtMost(trimmed, "--test-mode", TrimmedTasks);
    }

    private static bool MayMissData(string[] args) =>
        Value(args, "--experiment", "-e") is { } experiment && DataByHand.Contains(experiment) && Value(args, "--datasets") is null;

    private static string? Value(string[] args, params string[] names)
    {
        var at = Array.FindIndex(args, names.Contains);
        return at >= 0 && at + 1 < args.Length ? args[at + 1] : null;
    }

    /// <summary>The command with <paramref name="option"/> set to <paramref name="value"/>, replaced where given.</summary>
    private static string[] Set(string[] args, string option, string value)
    {
        var at = Array.IndexOf(args, option);
        if (at < 0) return [.. args, option, value];
        var copy = args.ToArray();
        copy[at + 1] = value;
        return copy;
    }

    private static string[] AtMost(string[] args, string option, string value) =>
        Value(args, option) is { } given && int.Parse(given, System.Globalization.CultureInfo.InvariantCulture) <= int.Parse(value, System.Globalization.CultureInfo.InvariantCulture)
            ? args : Set(args, option, value);

    private static string[] FirstSeed(string[] args) =>
        Value(args, "--seed") is { } seeds ? Set(args, "--seed", seeds.Split(',')[0]) : args;

    // ---- extraction ----

    /// <summary>The command form a rule applies to: the command, and the sub-command of a branch (<c>study run</c>).</summary>
    private static string Form(string[] command) =>
        command is [var branch and ("study" or "data" or "inspect"), var sub, ..] ? $"{branch} {sub}" : command.FirstOrDefault() ?? "";

    /// <summary>The contents of the fenced blocks of <paramref name="language"/>.</summary>
    private static IEnumerable<string> Blocks(string markdown, string language)
    {
        var block = (StringBuilder?)null;
        foreach (var line in markdown.Split('\n'))
        {
            if (block is null && line.TrimEnd() == "```" + language) block = new StringBuilder();
            else if (block is not null && line.TrimEnd() == "```")
            {
                yield return block.ToString();
                block = null;
            }
            else block?.Append(line).Append('\n');
        }
    }

    /// <summary>
    /// Every retain command of a page, as its arguments after <c>./retain</c>: each command of a <c>bash</c> block
    /// (continuation lines joined, comments dropped, <c>&amp;&amp;</c> lists split) and each <c>`./retain ...`</c> in a
    /// table row. A bash block's command that is not retain must be one of <see cref="OtherPrograms"/>.
    /// </summary>
    private static IEnumerable<string[]> Commands(string markdown)
    {
        foreach (var block in Blocks(markdown, "bash"))
            foreach (var line in block.Replace("\\\n", " ").Split('\n', StringSplitOptions.RemoveEmptyEntries))
                foreach (var command in SplitList(ShellWords(line)))
                {
                    if (command is ["./retain", .. var args]) yield return args;
                    else Assert.True(command.Length == 0 || OtherPrograms.ContainsKey(command[0]),
                        $"the docs show `{string.Join(' ', command)}`: a retain command starts with ./retain; another program must be listed in DocsCommandTests.OtherPrograms with how it is tested");
                }
        foreach (var row in markdown.Split('\n').Where(l => l.StartsWith('|')))
            foreach (Match span in TableCommand().Matches(row))
                yield return ShellWords(span.Groups[1].Value).ToArray();
    }

    private static IEnumerable<string[]> SplitList(List<string> words)
    {
        var command = new List<string>();
        foreach (var word in words)
        {
            if (word == "&&")
            {
                yield return [.. command];
                command.Clear();
            }
            else command.Add(word);
        }
        yield return [.. command];
    }

    /// <summary>A shell line's words: quotes removed, an unquoted <c>#</c> at a word's start ends the line.</summary>
    private static List<string> ShellWords(string line)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var inWord = false;
        char? quote = null;
        foreach (var c in line)
        {
            if (quote is { } q)
            {
                if (c == q) quote = null;
                else word.Append(c);
            }
            else if (c is '"' or '\'') (quote, inWord) = (c, true);
            else if (char.IsWhiteSpace(c))
            {
                if (inWord) words.Add(word.ToString());
                (word, inWord) = (new StringBuilder(), false);
            }
            else if (c == '#' && !inWord) return words;
            else
            {
                word.Append(c);
                inWord = true;
            }
        }
        if (inWord) words.Add(word.ToString());
        return words;
    }

    [GeneratedRegex(@"`\./retain ([^`]+)`")]
    private static partial Regex TableCommand();

    [Fact]
    public void ExtractionJoinsContinuationsDropsCommentsAndSplitsLists()
    {
        const string page = "text `./retain run` in prose is not a command\n\n```bash\n./retain run -e mnist2 \\\n    --limit 320   # a comment\n"
            + "./retain metrics \"res/a b.txt\" && ./retain report res\ntools/slurm-cluster.sh status\n```\n\n| a | `./retain bench entropy` |\n";
        var commands = Commands(page).Select(c => string.Join('|', c)).ToArray();
        Assert.Equal(["run|-e|mnist2|--limit|320", "metrics|res/a b.txt", "report|res", "bench|entropy"], commands);
        Assert.Equal("study run", Form(["study", "run", "x.yaml"]));
        Assert.Equal(["run", "-e", "pmnist", "--nepochs", "1", "--generations", "1", "--limit", "20", "--test-mode", "2"],
            TrimRun(["run", "-e", "pmnist", "--nepochs", "20", "--generations", "10", "--limit", "320"]));
        Assert.Throws<Xunit.Sdk.TrueException>(() => Commands("```bash\nrm -rf res\n```\n").ToArray());
    }

    [Fact]
    public void EveryPageWithCommandsIsFound()
    {
        var count = PagePaths().Sum(p => Commands(File.ReadAllText(p)).Count());
        Assert.True(count >= 40, $"only {count} retain commands found in the docs: is the extraction broken?");
    }

    /// <summary>docs/extending.md quotes its worked examples: each C# block is a piece of one of their files, line for line.</summary>
    [Fact]
    public void TheExtendingGuideQuotesTheExampleFiles()
    {
        static string[] Lines(string text) => text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
        var examples = Directory.GetFiles(Path.Combine(TestSupport.RepositoryRoot, "tests", "Retain.Tests", "Extending"), "*.cs")
            .Select(f => Lines(File.ReadAllText(f))).ToArray();
        var blocks = Blocks(File.ReadAllText(Path.Combine(TestSupport.RepositoryRoot, "docs", "extending.md")), "csharp").Select(Lines).ToArray();
        Assert.True(blocks.Length >= 10, $"only {blocks.Length} C# blocks in docs/extending.md");
        foreach (var block in blocks)
            Assert.True(examples.Any(file => Enumerable.Range(0, file.Length - block.Length + 1).Any(at => file.AsSpan(at, block.Length).SequenceEqual(block))),
                $"docs/extending.md quotes code that no file of tests/Retain.Tests/Extending has (update the quote):\n{string.Join('\n', block)}");
    }

    /// <summary>docs/library.md quotes the sample samples/OwnModel: each C# block is a piece of its Program.cs, each XML block of its project file.</summary>
    [Fact]
    public void TheLibraryGuideQuotesTheSample()
    {
        static string[] Lines(string text) => text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
        var sample = Path.Combine(TestSupport.RepositoryRoot, "samples", "OwnModel");
        var page = File.ReadAllText(Path.Combine(TestSupport.RepositoryRoot, "docs", "library.md"));
        var quoted = 0;
        foreach (var (language, file) in new[] { ("csharp", "Program.cs"), ("xml", "OwnModel.csproj") })
        {
            var source = Lines(File.ReadAllText(Path.Combine(sample, file)));
            foreach (var block in Blocks(page, language).Select(Lines))
            {
                quoted++;
                Assert.True(Enumerable.Range(0, source.Length - block.Length + 1).Any(at => source.AsSpan(at, block.Length).SequenceEqual(block)),
                    $"docs/library.md quotes code that samples/OwnModel/{file} does not have (update the quote):\n{string.Join('\n', block)}");
            }
        }
        Assert.True(quoted >= 6, $"only {quoted} quotes of the sample in docs/library.md");
    }

    // ---- size and links ----

    [Fact]
    public void ReadmeIsAtMost8Kilobytes()
    {
        var bytes = new FileInfo(Path.Combine(TestSupport.RepositoryRoot, "README.md")).Length;
        Assert.True(bytes <= 8192, $"README.md is {bytes} bytes; at most 8192: move detail to a page under docs/");
    }

    [Fact]
    public void EveryRelativeLinkPointsToAFileAndItsHeading()
    {
        var broken = new List<string>();
        foreach (var page in PagePaths())
        {
            var markdown = File.ReadAllText(page);
            foreach (Match link in MarkdownLink().Matches(markdown))
            {
                var target = link.Groups[1].Value;
                if (target.Contains("://", StringComparison.Ordinal) || target.StartsWith("mailto:", StringComparison.Ordinal)) continue;
                var (file, anchor) = target.Split('#', 2) is var parts && parts.Length == 2 ? (parts[0], parts[1]) : (target, null);
                var path = file.Length == 0 ? page : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(page)!, file));
                var name = Path.GetRelativePath(TestSupport.RepositoryRoot, page);
                if (!File.Exists(path) && !Directory.Exists(path)) broken.Add($"{name}: {target} (no such file)");
                else if (anchor is not null && !Anchors(File.ReadAllText(path)).Contains(anchor)) broken.Add($"{name}: {target} (no such heading)");
            }
        }
        Assert.True(broken.Count == 0, "broken links:\n" + string.Join('\n', broken));
    }

    /// <summary>The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as hyphens.</summary>
    private static HashSet<string> Anchors(string markdown) =>
        markdown.Split('\n').Where(l => l.StartsWith('#'))
            .Select(l => Regex.Replace(l.TrimStart('#').Trim().ToLowerInvariant(), @"[^\p{L}\p{N} _-]", "").Replace(' ', '-'))
            .ToHashSet();

    [GeneratedRegex(@"\]\(([^)\s]+)\)")]
    private static partial Regex MarkdownLink();
}
