namespace Retain.Evaluation;

/// <summary>
/// A run's accuracy matrix, checked: square, accuracies in [0,1], zeros above the diagonal. <c>this[t, u]</c> is the
/// test accuracy on task u after training task t. A run stopped early (or run with --test-mode) leaves the rows of
/// the tasks it never trained all zero; <see cref="CompletedTasks"/> is what the run's JSON record says where it is
/// known (a run can score 0 on every task of a row), else the rows up to the last non-zero one. Every metric is taken
/// over those tasks only.
/// </summary>
public sealed class AccuracyMatrix
{
    private readonly double[][] _values;

    /// <summary>Where the matrix came from (its file), for error messages.</summary>
    public string Source { get; }

    /// <summary>Tasks of the experiment (the matrix is TaskCount × TaskCount).</summary>
    public int TaskCount => _values.Length;

    /// <summary>Tasks trained: the rows before the first trailing all-zero row.</summary>
    public int CompletedTasks { get; }

    public double this[int afterTask, int onTask] => _values[afterTask][onTask];

    public AccuracyMatrix(double[][] values, string source, int? completedTasks = null)
    {
        Source = source;
        if (values.Length == 0) throw new DataFileException(source, "empty accuracy matrix");
        var size = values.Length;
        for (var t = 0; t < size; t++)
        {
            if (values[t].Length != size)
                throw new DataFileException(source, $"row {t + 1} has {values[t].Length} values, a {size}x{size} accuracy matrix needs {size}");
            for (var u = 0; u < size; u++)
            {
                var value = values[t][u];
                if (!(value >= 0 && value <= 1))
                    throw new DataFileException(source, $"row {t + 1}, column {u + 1}: {value} is not an accuracy in [0,1]");
                // Entries above the diagonal (tasks not yet trained) are 0 by the file format; anything else is a
                // different kind of matrix, and reading it as this one would silently give wrong metrics.
                if (u > t && value != 0)
                    throw new DataFileException(source, $"row {t + 1}, column {u + 1}: {value} above the diagonal, where an accuracy matrix has 0 (tasks not yet trained)");
            }
        }
        _values = values.Select(row => row.ToArray()).ToArray();
        if (completedTasks is { } known)
        {
            if (known < 1) throw new DataFileException(source, "the run completed no task");
            if (known > size) throw new DataFileException(source, $"the run's record says {known} tasks completed, the matrix has {size}");
            CompletedTasks = known;
            return;
        }
        var lastTrained = Array.FindLastIndex(_values, row => row.Any(v => v != 0));
        if (lastTrained < 0) throw new DataFileException(source, "all accuracies are 0: the run completed no task");
        CompletedTasks = lastTrained + 1;
    }

    /// <summary>
    /// Reads an accuracy-matrix text file as <see cref="ResultFiles"/> writes it, with the number of completed tasks
    /// from the JSON record beside it where there is one.
    /// </summary>
    public static AccuracyMatrix Read(string path)
    {
        var record = Path.ChangeExtension(path, ".json");
        return Read(path, File.Exists(record) ? Experiments.RunRecordFile.ReadFields(record).TasksCompleted : null);
    }

    /// <summary>Reads an accuracy-matrix text file whose run's record the caller has read already.</summary>
    public static AccuracyMatrix Read(string path, int? completedTasks) => new(ResultFiles.ReadAccuracyMatrix(path), path, completedTasks);

    /// <summary>Throws unless this reference run trained at least <paramref name="tasks"/> tasks.</summary>
    public void RequireCompleted(int tasks, string forRun)
    {
        if (CompletedTasks < tasks)
            throw new DataFileException(Source, $"this reference run completed {CompletedTasks} of {TaskCount} tasks, but {forRun} completed {tasks}: rerun the reference on at least {tasks} tasks");
    }
}
