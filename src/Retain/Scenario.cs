using System.Text.Json.Serialization;

namespace Retain;

/// <summary>
/// The three scenarios of continual learning (van de Ven and Tolias, "Three scenarios for continual learning", 2019;
/// van de Ven, Tuytelaars and Tolias, Nature Machine Intelligence 2022): what a network is told at test time and what
/// it must answer.
/// </summary>
[JsonConverter(typeof(JsonStringEnumConverter<Scenario>))]
public enum Scenario
{
    /// <summary>Task-incremental: one head per task, and the task id given at test picks it (the seed's setting).</summary>
    [JsonStringEnumMemberName("task")] Task,
    /// <summary>Domain-incremental: one head shared by every task over a task's classes; no task id at test.</summary>
    [JsonStringEnumMemberName("domain")] Domain,
    /// <summary>Class-incremental: one head that grows over every class seen so far; no task id at test.</summary>
    [JsonStringEnumMemberName("class")] Class,
}

public static class Scenarios
{
    public static IReadOnlyList<Scenario> All { get; } = [Scenario.Task, Scenario.Domain, Scenario.Class];

    /// <summary>The scenario as the command line, study files and records write it: task, domain, class.</summary>
    public static string Name(this Scenario scenario) => scenario.ToString().ToLowerInvariant();

    /// <summary>The literature's short name: task-IL, domain-IL, class-IL.</summary>
    public static string Label(this Scenario scenario) => $"{scenario.Name()}-IL";

    /// <summary>task, domain or class; anything else is an error naming <paramref name="option"/>.</summary>
    public static Scenario Parse(string text, string option = "--scenario")
    {
        foreach (var scenario in All)
            if (scenario.Name() == text) return scenario;
        throw new RetainException($"{option}: expected task, domain or class (got '{text}')");
    }

    /// <summary>The names of <paramref name="scenarios"/>, comma-separated.</summary>
    public static string Names(IEnumerable<Scenario> scenarios) => string.Join(", ", scenarios.Select(Name));
}
