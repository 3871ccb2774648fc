using System.Globalization;
using Retain.Approaches;
using Retain.Evaluation;
using Retain.Experiments;

namespace Retain.Studies;

/// <summary>An option of a study run as the file gives it: its value as command-line text and the line it is on.</summary>
public sealed record StudyOption(string Name, string Value, int Line);

/// <summary>
/// One run of a study: an experiment, an approach, a seed and options, and the result file it writes
/// (<c>&lt;output&gt;/&lt;experiment&gt;_&lt;approach&gt;_&lt;seed&gt;[_&lt;label&gt;].txt</c>, the layout
/// <c>retain metrics</c> reads; in <c>&lt;output&gt;/&lt;scenario&gt;/</c> for the domain and class scenarios, beside
/// their own references). <see cref="Label"/> names a grid point or an explicit run; references have none.
/// </summary>
public sealed record StudyRun(string Experiment, string Approach, int Seed, string? Label, IReadOnlyList<StudyOption> Options,
    string Output, int Line)
{
    public Scenario Scenario { get; init; } = Scenario.Task;

    /// <summary>The run's name: its result file's, after its scenario's folder outside task-IL (<c>class/pmnist_er_0</c>).</summary>
    public string Name => (Scenario == Scenario.Task ? "" : Scenario.Name() + "/") + System.IO.Path.GetFileNameWithoutExtension(Output);
    public bool IsReference => Approach is ReferenceRuns.Joint or ReferenceRuns.Random;
    public RunPaths Paths => new(Output, null, null);

    /// <summary>
    /// The <c>retain run</c> arguments of this run (without the program). With <c>--resume</c> the same command starts
    /// the run, continues it after an interruption, or does nothing once it is complete.
    /// </summary>
    public IReadOnlyList<string> Arguments
    {
        get
        {
            var args = new List<string> { "run", "--experiment", Experiment, "--approach", Approach, "--seed", Seed.ToString(CultureInfo.InvariantCulture), "--output", Output };
            if (Scenario != Scenario.Task) args.AddRange(["--scenario", Scenario.Name()]);
            foreach (var option in Options) args.AddRange(["--" + option.Name, option.Value]);
            args.Add("--resume");
            return args;
        }
    }

    /// <summary>Missing, partial or complete, from the result record and checkpoint at <see cref="Output"/>.</summary>
    public ExistingRun State => ExistingRun.Inspect(Paths);
}

/// <summary>
/// A study: experiments × approaches (with their grid points or explicit variants) × seeds, plus the joint and random
/// reference runs the normalised metrics need, each a run with a stable result file under one output folder.
/// Read from a YAML file (<see cref="StudyFile"/>).
/// </summary>
public sealed record Study(string File, string Name, string Output, IReadOnlyList<StudyRun> Runs)
{
    /// <summary>The runs that are not complete yet, in study order.</summary>
    public IReadOnlyList<StudyRun> Pending => Runs.Where(r => r.State.State != RunState.Complete).ToArray();

    public static Study Load(string path, IReadOnlySet<string> runOptions) => StudyFile.Read(path, runOptions);
}
