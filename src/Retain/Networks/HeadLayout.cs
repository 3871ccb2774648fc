namespace Retain.Networks;

/// <summary>
/// Where each task's outputs lie on a network's heads, by scenario (<see cref="Retain.Scenario"/>):
/// <list type="bullet">
/// <item>task-IL: one head per task, of the task's classes (the seed's network);</item>
/// <item>domain-IL: one head shared by every task, of a task's classes (every task has as many);</item>
/// <item>class-IL: one head over every class of the benchmark, of which task t uses the outputs of the classes of tasks
/// 0..t (a head that grows; the outputs of later classes exist from the start but take no part until their task);
/// task t's labels are then global class ids, offset by the classes of the tasks before it.</item>
/// </list>
/// </summary>
public sealed class HeadLayout
{
    private readonly int[] _classCounts;

    private HeadLayout(Scenario scenario, int[] classCounts)
    {
        (Scenario, _classCounts) = (scenario, classCounts);
        HeadSizes = scenario switch
        {
            Scenario.Task => classCounts,
            Scenario.Domain => [classCounts[0]],
            _ => [classCounts.Sum()],
        };
    }

    public Scenario Scenario { get; }

    /// <summary>Each task's number of classes.</summary>
    public IReadOnlyList<int> ClassCounts => _classCounts;

    public int TaskCount => _classCounts.Length;

    /// <summary>The heads' numbers of outputs.</summary>
    public IReadOnlyList<int> HeadSizes { get; }

    /// <summary>Every task's outputs lie on one head (domain-IL, class-IL): a batch of several tasks needs no grouping.</summary>
    public bool Shared => Scenario != Scenario.Task;

    /// <summary>The layout of <paramref name="scenario"/> for tasks of <paramref name="classCounts"/> classes.</summary>
    public static HeadLayout For(Scenario scenario, IReadOnlyList<int> classCounts)
    {
        if (classCounts.Count == 0) throw new ArgumentException("a network needs at least one task", nameof(classCounts));
        RequireSupports(scenario, classCounts);
        return new HeadLayout(scenario, [.. classCounts]);
    }

    /// <summary>One head per task (the seed's network).</summary>
    public static HeadLayout PerTask(IReadOnlyList<int> classCounts) => For(Scenario.Task, classCounts);

    /// <summary>Domain-IL shares one head over a task's classes, so every task must have as many: one line saying so otherwise.</summary>
    public static void RequireSupports(Scenario scenario, IReadOnlyList<int> classCounts)
    {
        if (scenario == Scenario.Domain && classCounts.Distinct().Count() > 1)
            throw new RetainException($"the domain scenario shares one head over a task's classes, so every task needs as many; " +
                                      $"these have {string.Join(", ", classCounts)}");
    }

    /// <summary>Task <paramref name="task"/>'s head and how many of its first outputs the task uses (and is tested on).</summary>
    public (int Head, int Outputs) Of(int task) => Scenario switch
    {
        Scenario.Task => (task, _classCounts[task]),
        Scenario.Domain => (0, _classCounts[0]),
        _ => (0, ClassesBefore(task + 1)),
    };

    /// <summary>What task <paramref name="task"/>'s labels 0..k-1 become: class-IL adds the classes of the tasks before it.</summary>
    public int LabelOffset(int task) => Scenario == Scenario.Class ? ClassesBefore(task) : 0;

    private int ClassesBefore(int task) => _classCounts.Take(task).Sum();

    /// <summary>
    /// The tasks whose outputs hold what was learnt before task <paramref name="task"/>, each once (LwF distils them):
    /// every earlier task's own head in task-IL; in domain-IL and class-IL the previous task's outputs, which are
    /// the shared head or the classes of every earlier task.
    /// </summary>
    public IEnumerable<int> EarlierOutputs(int task) =>
        Shared ? (task > 0 ? [task - 1] : []) : Enumerable.Range(0, task);
}
