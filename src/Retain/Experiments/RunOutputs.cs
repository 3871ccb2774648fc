using Retain.Approaches;
using Retain.Evaluation;

namespace Retain.Experiments;

/// <summary>
/// Everything a run writes, checked before it loads any data (<see cref="OutputPaths"/>) and claimed for its whole
/// life (<see cref="OutputLock"/>): the accuracy matrix at <c>--output</c>; beside it the JSON record, the checkpoint,
/// the lock file, the kept model (<c>--save-model</c>) and, after an unexpected error, the crash log; with
/// <c>--log-path</c> the logs; DWA's folder of masks and embeddings; the TensorBoard folder.
/// </summary>
internal static class RunOutputs
{
    /// <summary>The extensions of the files a run writes itself beside its matrix: <c>--output</c> may not end in one.</summary>
    public static readonly IReadOnlyList<string> OwnExtensions =
        [".json", CheckpointFile.Extension, OutputLock.Extension, ".log", KeptModel.Extension, DwaFolderExtension];

    /// <summary>DWA's introspection (package Retain.Reports) writes a folder named as the run with this extension.</summary>
    public const string DwaFolderExtension = ".dwa";

    /// <summary>Where a run's extra files go (DWA's introspection): the log path if given, else the accuracy file's folder.</summary>
    public static string ArtifactsFolder(RunPaths paths) => paths.LogPath ?? Path.GetDirectoryName(Path.GetFullPath(paths.Output))!;

    /// <summary>The files and folders of the run at <paramref name="paths"/>, each with the option that places it.</summary>
    public static IReadOnlyList<(string Path, string Option, bool IsFolder)> All(RunPaths paths)
    {
        var all = new List<(string, string, bool)>
        {
            (paths.Output, "--output", false), (paths.Json, "--output", false), (paths.Checkpoint, "--output", false),
            (paths.Lock, "--output", false), (paths.CrashLog, "--output", false), (KeptModel.PathFor(paths.Output), "--output", false),
        };
        if (paths.LogPath is { } logs)
        {
            all.Add((logs, "--log-path", true));
            all.Add((RunLogsSink.PathFor(logs, paths.Name), "--log-path", false));
        }
        all.Add((Path.Combine(ArtifactsFolder(paths), paths.Name + DwaFolderExtension), paths.LogPath is null ? "--output" : "--log-path", true));
        if (paths.TensorBoard is { } board) all.Add((board, "--tensorboard", true));
        return all;
    }

    /// <summary>Every check of where the run writes, before anything is loaded; each problem one line naming the option.</summary>
    public static void Check(RunPaths paths)
    {
        OutputPaths.RequireFile(paths.Output, "--output");
        OutputPaths.RequireNotOwnExtension(paths.Output, "--output", OwnExtensions, Path.ChangeExtension(Path.GetFileName(paths.Output), ".txt"));
        if (paths.LogPath is { } logs) OutputPaths.RequireFolder(logs, "--log-path");
        if (paths.TensorBoard is { } board) OutputPaths.RequireFolder(board, "--tensorboard");
        var all = All(paths);
        OutputPaths.RequireDistinct(all.Select(p => (p.Path, p.Option)));
        foreach (var file in all.Where(p => !p.IsFolder)) OutputPaths.RequireNotFolders([file.Path], file.Option);
    }

    /// <summary>Claims the run's outputs (and its log files) until disposed; another run onto them is refused naming this one's PID.</summary>
    public static OutputLock Lock(RunPaths paths) => OutputLock.Acquire(paths.Output, Stems(paths));

    /// <summary>Refuses, naming its PID, when another run holds these outputs (what is there is then that run's, in the making).</summary>
    public static void RequireFree(RunPaths paths) => OutputLock.RequireFree(paths.Output, Stems(paths));

    /// <summary>The PID of the process that holds these outputs (a run writing them now), or null when none does.</summary>
    public static string? HeldBy(RunPaths paths) => Stems(paths).Select(s => OutputLock.HeldBy(OutputLock.FileFor(s))).FirstOrDefault(pid => pid is not null);

    private static IEnumerable<string> Stems(RunPaths paths) =>
        new[] { Stem(paths.Output) }.Concat(paths.LogPath is { } logs ? [Path.Combine(logs, paths.Name)] : []);

    /// <summary>
    /// The record of a complete run; an accuracy matrix missing beside it (deleted, or lost to a crash between the
    /// two writes) is written again from the record, which holds the same matrix.
    /// </summary>
    public static (RunRecord Record, bool MatrixRestored) Complete(RunPaths paths)
    {
        var record = RunRecordFile.Read(paths.Json);
        if (File.Exists(paths.Output)) return (record, false);
        _ = new AccuracyMatrix(record.Accuracy, paths.Json, record.TasksCompleted); // checked as every reader checks it
        ResultFiles.WriteAccuracyMatrix(paths.Output, record.Accuracy);
        return (record, true);
    }

    private static string Stem(string path) => Path.ChangeExtension(Path.GetFullPath(path), null);
}
