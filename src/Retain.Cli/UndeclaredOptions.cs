using System.Reflection;
using Spectre.Console.Cli;

namespace Retain.Cli;

/// <summary>
/// Spectre.Console.Cli passes a word a command does not declare on as a remaining argument, and the command ran without
/// it: <c>study run s.yaml --dryrun</c> started the runs, <c>report res --ouput r</c> wrote elsewhere. Only <c>run</c>
/// and <c>dwa-terms</c> read remaining options, as the approach's own (checked there); every other command refuses them
/// here, before it does anything. (Spectre's strict parsing would refuse the approach's options too.)
/// </summary>
internal sealed class UndeclaredOptions(IReadOnlyDictionary<string, Type> commands) : ICommandInterceptor
{
    public void Intercept(CommandContext context, CommandSettings settings)
    {
        var remaining = context.Remaining;
        if (settings is RunSettings or DwaTermsSettings || (remaining.Parsed.Count == 0 && remaining.Raw.Count == 0)) return;
        var command = "retain " + (RetainApp.CommandPath(context.Arguments, commands) ?? context.Name);
        // Parsed: the options Spectre did not know; Raw: the words after a "--".
        if (remaining.Parsed.Count == 0) throw new RetainException($"{command}: unexpected argument '{remaining.Raw[0]}' (see {command} --help)");
        // -slurm reaches here as -s -l -u -r -m: name the word the user typed.
        if (RetainApp.SingleDash(context.Arguments) is { } singleDash) throw new RetainException(singleDash);
        var given = remaining.Parsed.First().Key;
        throw new RetainException($"{given}: not an option of {command}{Suggestion(given.TrimStart('-'), DeclaredOptions(settings.GetType()))} (see {command} --help)");
    }

    public void InterceptResult(CommandContext context, CommandSettings settings, ref int result) { }

    /// <summary>The long option names (without dashes) that <paramref name="settings"/> declares.</summary>
    public static IReadOnlyList<string> DeclaredOptions(Type settings) => settings.GetProperties()
        .Select(p => p.GetCustomAttribute<CommandOptionAttribute>()).OfType<CommandOptionAttribute>()
        .SelectMany(a => a.LongNames).ToArray();

    /// <summary>
    /// "; did you mean --x?" for the declared name closest to <paramref name="name"/>, else "". A typo is one edit in a
    /// short name and up to one per four letters in a longer one (--lamb is not a typo of --name).
    /// </summary>
    public static string Suggestion(string name, IEnumerable<string> declared) =>
        Closest(name, declared) is { } closest ? $"; did you mean --{closest}?" : "";

    /// <summary>The candidate closest to <paramref name="name"/> within a typo's distance (<see cref="Suggestion"/>), or null.</summary>
    public static string? Closest(string name, IEnumerable<string> candidates) =>
        candidates.Select(c => (Name: c, Distance: EditDistance(name, c)))
            .Where(c => c.Distance <= Math.Max(1, name.Length / 4)).OrderBy(c => c.Distance).Select(c => c.Name).FirstOrDefault();

    /// <summary>
    /// Levenshtein distance (insertions, deletions, substitutions). Hand-written: a dozen lines for a typo hint do not
    /// justify a package.
    /// </summary>
    public static int EditDistance(string a, string b)
    {
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var current = new int[b.Length + 1];
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            previous = current;
        }
        return previous[b.Length];
    }
}
