using System.Globalization;
using Retain.Approaches;
using Retain.Data;
using Retain.Evaluation;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Retain.Studies;

/// <summary>
/// Reads a study file (YAML, through YamlDotNet's node model so that every error can name its line):
/// <code>
/// name: quick                      # the study's name
/// output: ../res/quick             # result folder, relative to this file (default: res/&lt;name&gt; in the current folder)
/// experiments: [pmnist]            # names or benchmark files (relative to this file)
/// seeds: 3                         # 0, 1, 2; or a list: [0, 4, 7]
/// scenarios: [task, class]         # task (default), domain, class: each run and reference in each
/// options: {nepochs: 5, limit: 500}          # run options shared by every run (retain run's, without dashes)
/// approaches:                                # approach: its options, plus grid (a product) and zip (lists side by side)
///   sgd: {}
///   ewc: {lamb: 5000}
///   hat: {grid: {lamb: [0.5, 1], smax: [200, 400]}}
/// runs:                                      # explicit runs, one per command line of a script
///   - {approach: dwa, name: tanh, gate: tanh}
/// references: true                           # add the joint and random runs the metrics need (default)
/// </code>
/// Unknown keys, empty lists, options an approach does not have, and two runs writing the same file are errors
/// naming the line.
/// </summary>
internal static class StudyFile
{
    /// <summary>Run options a study sets itself, per run; the file may not give them.</summary>
    private static readonly HashSet<string> Reserved = ["experiment", "e", "approach", "a", "seed", "scenario", "output", "o", "name", "resume", "overwrite", "threads"];

    /// <summary>Bounds that no sensible study reaches; beyond them a file is refused before anything is built from it.</summary>
    public const int MaxSeeds = 10_000, MaxRuns = 10_000, MaxNesting = 32;

    private const long MaxFileBytes = 1 << 20;

    public static Study Read(string path, IReadOnlySet<string> runOptions)
    {
        if (Directory.Exists(path)) throw new DataFileException(path, "is a folder, not a study file");
        if (!File.Exists(path)) throw new DataFileException(path, "study file not found");
        if (new FileInfo(path).Length > MaxFileBytes) throw new DataFileException(path, $"larger than {MaxFileBytes} bytes: not a study file");
        YamlStream yaml = [];
        try
        {
            var text = File.ReadAllText(path);
            RequireShallow(path, text);
            yaml.Load(new StringReader(text));
        }
        catch (YamlException e) { throw new DataFileException(path, $"line {e.Start.Line}: {FirstLine(e.Message)}"); }
        // YamlDotNet reports some malformed input (a list never closed at the end of the file, a key given twice)
        // with these instead of a YamlException.
        catch (InvalidOperationException)
        {
            throw new DataFileException(path, "not valid YAML: it ends where more was expected (a [ or { not closed?)");
        }
        catch (ArgumentException e)
        {
            throw new DataFileException(path, $"not valid YAML ({FirstLine(e.Message)})");
        }
        if (yaml.Documents.Count != 1 || yaml.Documents[0].RootNode is not YamlMappingNode root)
            throw new DataFileException(path, "a study file is one YAML mapping (name, experiments, seeds, approaches or runs, ...)");
        return new Reader(path, runOptions).Study(root);
    }

    private static string FirstLine(string text) => text.Split('\n')[0].Trim();

    /// <summary>
    /// Walks the file's YAML events (the parser keeps its own stack) and refuses nesting deeper than
    /// <see cref="MaxNesting"/> before the node tree, which is built recursively, could exhaust the thread's stack.
    /// </summary>
    private static void RequireShallow(string path, string text)
    {
        var parser = new Parser(new StringReader(text));
        var depth = 0;
        while (parser.MoveNext())
        {
            switch (parser.Current)
            {
                case YamlDotNet.Core.Events.MappingStart or YamlDotNet.Core.Events.SequenceStart:
                    if (++depth > MaxNesting) throw new DataFileException(path, $"line {parser.Current.Start.Line}: nested more than {MaxNesting} levels deep");
                    break;
                case YamlDotNet.Core.Events.MappingEnd or YamlDotNet.Core.Events.SequenceEnd:
                    depth--;
                    break;
            }
        }
    }

    private sealed class Reader(string path, IReadOnlySet<string> runOptions)
    {
        private readonly string _folder = Path.GetDirectoryName(Path.GetFullPath(path))!;

        private DataFileException Error(YamlNode node, string problem) => new(path, $"line {node.Start.Line}: {problem}");

        public Study Study(YamlMappingNode root)
        {
            string[] known = ["name", "output", "experiments", "seeds", "scenarios", "options", "approaches", "runs", "references"];
            foreach (var key in root.Children.Keys)
                if (!known.Contains(Text(key)))
                    throw Error(key, $"unknown key '{Text(key)}' (known: {string.Join(", ", known)})");

            var name = Scalar(Required(root, "name"));
            if (name.Length == 0 || name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || name.Contains('/'))
                throw Error(root.Children[new YamlScalarNode("name")], $"name '{name}' must be a plain file name");
            var output = Get(root, "output") is { } o ? Path.GetFullPath(Path.Combine(_folder, Scalar(o))) : Path.GetFullPath(Path.Combine("res", name));
            var experiments = List(Required(root, "experiments"), "experiments")
                .Select(e => (Node: e, Name: Scalar(e).EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? Path.GetFullPath(Path.Combine(_folder, Scalar(e))) : Scalar(e)))
                .ToArray();
            // An unknown experiment is named at its own line (every run's check would name the run's approach line).
            foreach (var (node, experiment) in experiments)
                try { ExperimentCatalog.DefaultBackbone(experiment); }
                catch (RetainException e) { throw Error(node, e.Message.Replace("--experiment: ", "", StringComparison.Ordinal)); }
            var seeds = Seeds(Required(root, "seeds"));
            Scenario[] scenarios = Get(root, "scenarios") is { } scenarioNode
                ? [.. List(scenarioNode, "scenarios").Select(ScenarioOf)]
                : [Scenario.Task];
            if (scenarios.Distinct().Count() != scenarios.Length) throw Error(root.Children[new YamlScalarNode("scenarios")], "a scenario is listed twice");
            var shared = Get(root, "options") is { } sharedNode ? Options(Mapping(sharedNode, "options"), approach: null) : [];

            var variants = new List<(YamlNode Node, string Approach, string? Label, List<StudyOption> Options)>();
            if (Get(root, "approaches") is { } approaches) variants.AddRange(Approaches(approaches));
            if (Get(root, "runs") is { } runs) variants.AddRange(ExplicitRuns(runs));
            if (variants.Count == 0) throw Error(root, "a study needs approaches or runs");
            var references = Get(root, "references") is not { } r || Bool(r);

            var runCount = (long)experiments.Length * seeds.Length * (variants.Count + (references ? 2 : 0));
            if (runCount > MaxRuns) throw Error(root, $"{runCount} runs (experiments x seeds x variants), at most {MaxRuns}: split the study");
            var all = new List<StudyRun>();
            foreach (var scenario in scenarios)
                foreach (var (experimentNode, experiment) in experiments)
                    foreach (var seed in seeds)
                    {
                        foreach (var (node, approach, label, options) in variants)
                            // A grid cell the approach refuses (lwf in domain-IL) is left out, not an error of the file.
                            if (Retain.Approaches.ApproachRegistry.All.FirstOrDefault(a => a.Name == approach)?.Spec.Refuses(scenario) is null)
                                all.Add(Run(experiment, approach, seed, label, [.. shared, .. options], output, scenario, node));
                        if (!references) continue;
                        foreach (var reference in new[] { ReferenceRuns.Joint, ReferenceRuns.Random })
                        {
                            var run = Run(experiment, reference, seed, null, shared, output, scenario, experimentNode);
                            if (all.All(x => x.Output != run.Output)) all.Add(run);
                        }
                    }
            foreach (var twins in all.GroupBy(r => r.Output).Where(g => g.Count() > 1))
                throw new DataFileException(path, $"lines {string.Join(" and ", twins.Select(t => t.Line).Distinct())}: two runs would write {Path.GetFileName(twins.Key)}; give one of them a name");
            return new Study(Path.GetFullPath(path), name, output, all);
        }

        private static StudyRun Run(string experiment, string approach, int seed, string? label, IReadOnlyList<StudyOption> options, string output,
            Scenario scenario, YamlNode node)
        {
            // A shared option that the variant gives again is the variant's.
            var merged = options.GroupBy(o => o.Name).Select(g => g.Last()).ToArray();
            var stem = Path.GetFileNameWithoutExtension(experiment);
            // Each scenario's runs and references in a folder of their own (task-IL's where they always were).
            var folder = scenario == Scenario.Task ? output : Path.Combine(output, scenario.Name());
            var file = ResultFiles.DefaultOutput(folder, stem, approach, seed, label);
            return new StudyRun(experiment, approach, seed, label, merged, file, (int)node.Start.Line) { Scenario = scenario };
        }

        /// <summary><c>approaches:</c> a list of names, or a mapping from name to options with <c>grid</c> and <c>zip</c>.</summary>
        private IEnumerable<(YamlNode, string, string?, List<StudyOption>)> Approaches(YamlNode node)
        {
            if (node is YamlSequenceNode names)
            {
                foreach (var item in List(names, "approaches")) yield return (item, Approach(item), null, []);
                yield break;
            }
            var mapping = Mapping(node, "approaches");
            if (mapping.Children.Count == 0) throw Error(node, "'approaches' is empty");
            foreach (var (key, value) in mapping.Children)
            {
                var approach = Approach(key);
                var entry = value is YamlScalarNode { Value: null or "" } ? new YamlMappingNode() : Mapping(value, approach);
                var fixedOptions = new YamlMappingNode();
                YamlMappingNode? grid = null, zip = null;
                foreach (var (k, v) in entry.Children)
                    switch (Text(k))
                    {
                        case "grid": grid = Mapping(v, "grid"); break;
                        case "zip": zip = Mapping(v, "zip"); break;
                        default: fixedOptions.Add(k, v); break;
                    }
                var options = Options(fixedOptions, approach);
                foreach (var (label, point) in Points(grid, zip, approach))
                    yield return (key, approach, label, [.. options, .. point]);
            }
        }

        /// <summary>The grid's product, each point combined with every zipped point; one unlabelled point without either.</summary>
        private IEnumerable<(string? Label, List<StudyOption> Options)> Points(YamlMappingNode? grid, YamlMappingNode? zip, string approach)
        {
            var points = new List<List<StudyOption>> { new() };
            if (grid is not null)
                foreach (var (key, value) in grid.Children)
                {
                    var name = OptionName(key, approach);
                    var values = List(value, name).Select(v => new StudyOption(name, Value(v), (int)v.Start.Line)).ToArray();
                    RequireFewRuns(grid, (long)points.Count * values.Length);
                    points = points.SelectMany(p => values.Select(v => (List<StudyOption>)[.. p, v])).ToList();
                }
            if (zip is not null)
            {
                var columns = zip.Children.Select(kv => (Name: OptionName(kv.Key, approach), Values: List(kv.Value, Text(kv.Key)))).ToArray();
                if (columns.Select(c => c.Values.Count).Distinct().Count() > 1)
                    throw Error(zip, $"the lists under 'zip' must have one length (got {string.Join(", ", columns.Select(c => $"{c.Name}: {c.Values.Count}"))})");
                var rows = Enumerable.Range(0, columns[0].Values.Count)
                    .Select(i => columns.Select(c => new StudyOption(c.Name, Value(c.Values[i]), (int)c.Values[i].Start.Line)).ToList()).ToArray();
                RequireFewRuns(zip, (long)points.Count * rows.Length);
                points = points.SelectMany(p => rows.Select(row => (List<StudyOption>)[.. p, .. row])).ToList();
            }
            return points.Select(p => (p.Count == 0 ? null : Label(p), p));
        }

        private void RequireFewRuns(YamlNode node, long points)
        {
            if (points > MaxRuns) throw Error(node, $"{points} grid points, at most {MaxRuns} runs in a study");
        }

        /// <summary><c>lamb-100_smax-400</c>: a grid point as part of a file name.</summary>
        private static string Label(IEnumerable<StudyOption> point) =>
            string.Join("_", point.Select(o => $"{o.Name}-{string.Concat(o.Value.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or ',' or '-' ? c : '_'))}"));

        /// <summary><c>runs:</c> one entry per command line: an approach, an optional name, options.</summary>
        private IEnumerable<(YamlNode, string, string?, List<StudyOption>)> ExplicitRuns(YamlNode node)
        {
            foreach (var item in List(node, "runs"))
            {
                var entry = Mapping(item, "a run");
                var approachNode = Get(entry, "approach") ?? throw Error(item, "a run needs 'approach'");
                var approach = Approach(approachNode);
                var options = new YamlMappingNode();
                string? name = null;
                foreach (var (k, v) in entry.Children)
                    if (Text(k) == "name")
                    {
                        name = Scalar(v);
                        if (name.Length == 0 || name.IndexOfAny(['/', '\\']) >= 0) throw Error(v, $"run name '{name}' must be a plain name");
                    }
                    else if (Text(k) != "approach") options.Add(k, v);
                yield return (item, approach, name, Options(options, approach));
            }
        }

        private List<StudyOption> Options(YamlMappingNode mapping, string? approach) =>
            mapping.Children.Select(kv => new StudyOption(OptionName(kv.Key, approach), Value(kv.Value), (int)kv.Key.Start.Line)).ToList();

        /// <summary>A run option, or (under an approach) one of the approach's own options.</summary>
        private string OptionName(YamlNode key, string? approach)
        {
            var name = Text(key).TrimStart('-');
            if (Reserved.Contains(name)) throw Error(key, $"'{name}' is set by the study for each run; it cannot be given");
            if (runOptions.Contains(name)) return name;
            if (approach is null)
                throw Error(key, $"'{name}' is not an option of retain run (approach options go under the approach)");
            var own = ApproachRegistry.Get(approach).Spec.Options().Select(o => o.Name).ToArray();
            if (!own.Contains(name))
                throw Error(key, own.Length == 0
                    ? $"'{name}' is not an option of retain run, and {approach} has no options of its own"
                    : $"'{name}' is not an option of {approach} (its options: {string.Join(", ", own)}) nor of retain run");
            return name;
        }

        private string Approach(YamlNode node)
        {
            var name = Scalar(node);
            if (ApproachRegistry.All.All(a => a.Name != name))
                throw Error(node, $"unknown approach '{name}' (known: {string.Join(", ", ApproachRegistry.All.Select(a => a.Name))})");
            return name;
        }

        private Scenario ScenarioOf(YamlNode node)
        {
            try { return Retain.Scenarios.Parse(Scalar(node)); }
            catch (RetainException) { throw Error(node, $"scenario '{Scalar(node)}' is not task, domain or class"); }
        }

        private int[] Seeds(YamlNode node)
        {
            if (node is YamlScalarNode)
            {
                if (!int.TryParse(Scalar(node), NumberStyles.Integer, CultureInfo.InvariantCulture, out var count) || count < 1)
                    throw Error(node, $"seeds: a count of at least 1 or a list of seeds (got '{Scalar(node)}')");
                if (count > MaxSeeds) throw Error(node, $"seeds: {count} seeds, at most {MaxSeeds}");
                return Enumerable.Range(0, count).ToArray();
            }
            var seeds = List(node, "seeds").Select(s => int.TryParse(Scalar(s), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= 0
                ? v : throw Error(s, $"seed '{Scalar(s)}' is not a non-negative integer")).ToArray();
            if (seeds.Distinct().Count() != seeds.Length) throw Error(node, "a seed is listed twice");
            return seeds;
        }

        /// <summary>An option's value as <c>retain run</c> takes it: a scalar as written, a list joined by commas.</summary>
        private string Value(YamlNode node) => node switch
        {
            YamlScalarNode s => s.Value ?? "",
            YamlSequenceNode list when list.Children.All(c => c is YamlScalarNode) && list.Children.Count > 0 => string.Join(",", list.Children.Select(Scalar)),
            _ => throw Error(node, "an option's value is a number, a word or a list of them"),
        };

        private bool Bool(YamlNode node) => Scalar(node).ToLowerInvariant() switch
        {
            "true" or "yes" => true,
            "false" or "no" => false,
            var other => throw Error(node, $"expected true or false (got '{other}')"),
        };

        private static YamlNode? Get(YamlMappingNode mapping, string key) =>
            mapping.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

        private YamlNode Required(YamlMappingNode mapping, string key) =>
            Get(mapping, key) ?? throw Error(mapping, $"'{key}' is missing");

        private YamlMappingNode Mapping(YamlNode node, string what) =>
            node as YamlMappingNode ?? throw Error(node, $"'{what}' must be a mapping (key: value)");

        private IReadOnlyList<YamlNode> List(YamlNode node, string what)
        {
            var list = node as YamlSequenceNode ?? throw Error(node, $"'{what}' must be a list");
            if (list.Children.Count == 0) throw Error(node, $"'{what}' is an empty list");
            return list.Children.ToArray();
        }

        private string Scalar(YamlNode node) => node is YamlScalarNode s ? s.Value ?? "" : throw Error(node, "expected a single value");

        private static string Text(YamlNode node) => (node as YamlScalarNode)?.Value ?? "";
    }
}
