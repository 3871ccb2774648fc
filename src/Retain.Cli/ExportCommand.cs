using System.ComponentModel;
using Retain.Evaluation;
using Retain.Experiments;
using Retain.Interop;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Retain.Cli;

public sealed class ExportSettings : CommandSettings
{
    [CommandArgument(0, "<RUN>")]
    [Description("A run made with --save-model: its result file (res/<experiment>_<approach>_<seed>.txt), its .json or its .model.")]
    public string Run { get; init; } = "";

    [CommandOption("--format <FORMAT>")]
    [Description("pytorch: one torch.save file with the state dict under the seed's parameter names, the approach's state (HAT's masks, EWC's Fisher diagonal and anchor) and the model's description.")]
    [DefaultValue("pytorch")]
    public string Format { get; init; } = "pytorch";

    [CommandOption("-o|--output <FILE>")]
    [Description("The file to write (default: beside the run's results, <output name>.pt).")]
    public string? Output { get; init; }

    [CommandOption("--overwrite")]
    [Description("Replace the output file if it exists.")]
    public bool Overwrite { get; init; }
}

/// <summary>
/// <c>retain export</c>: a run's kept model (<see cref="KeptModel"/>) in another framework's format. Every check of the
/// command line comes first; the export itself is the library's <see cref="PyTorchFile.Save"/>.
/// </summary>
public sealed class ExportCommand(IAnsiConsole console) : Command<ExportSettings>
{
    private static readonly string[] Formats = ["pytorch"];

    public override int Execute(CommandContext context, ExportSettings settings, CancellationToken cancellation)
    {
        if (!Formats.Contains(settings.Format))
            throw new RetainException($"--format: expected {string.Join(" or ", Formats)} (got '{settings.Format}')");
        var model = KeptModelOf(settings.Run);
        var output = settings.Output ?? Path.ChangeExtension(model, ".pt");
        var own = new[] { settings.Run, model, ResultFiles.JsonPathFor(model), Path.ChangeExtension(model, ".txt") };
        if (own.Any(f => Path.GetFullPath(f) == Path.GetFullPath(output)))
            throw new RetainException($"--output {output}: is one of the run's own files");
        if (File.Exists(output) && !settings.Overwrite)
            throw new RetainException($"{output}: already exists; add --overwrite to replace it, or --output to write another file");
        OutputPaths.RequireFile(output, "--output");
        var described = KeptModel.ReadDescription(model);
        if (!described.Resolve(model).Entry.Spec.LearnsTasks)
            throw new RetainException($"{settings.Run}: {described.Approach} is a reference that does not train its network: there is no model to export");

        var (description, approach) = KeptModel.Read(model);
        using (approach)
        using (approach.Model)
        using (var state = (approach as IPortableState)?.ExportState(description.TasksTrained))
        {
            PyTorchFile.Save(output, approach.Model, description, state);
            var kept = state is null ? "the network" : $"the network and the approach's {string.Join(", ", state.Groups.Keys)}";
            console.MarkupLine(Markup.Escape($"{description.Approach} on {description.Network}, {description.TasksTrained} of {description.TaskNames.Length} tasks trained: {kept}"));
        }
        console.MarkupLine($"Wrote [green]{Markup.Escape(output)}[/] {Markup.Escape("(in PyTorch: file = torch.load(path); net.load_state_dict(file[\"model\"]))")}");
        return 0;
    }

    /// <summary>The model a run kept (<c>--save-model</c>), given the run's result file, its .json or the .model itself.</summary>
    internal static string KeptModelOf(string run)
    {
        var model = KeptModel.PathFor(run);
        if (File.Exists(model)) return model;
        var results = new[] { run, ResultFiles.JsonPathFor(model), Path.ChangeExtension(model, ".txt") };
        throw new RetainException(results.Any(File.Exists)
            ? $"{run}: the run kept no trained model ({model}); run it again with --save-model"
            : $"{run}: no such run (no result file and no kept model {model})");
    }
}
