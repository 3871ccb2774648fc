namespace Retain.Tests;

/// <summary>Smoke tests of the real Slurm cluster that study runs will be submitted to (tools/slurm-cluster.sh).</summary>
public class SlurmClusterTests : TempFolderTests
{
    private string WriteScript(string name, string body)
    {
        var script = Path.Combine(Folder, name);
        File.WriteAllText(script, "#!/bin/bash\n" + body);
        return script;
    }

    [Fact]
    public void JobArrayRunsEveryElementWithItsIndexAndCpus()
    {
        var cluster = SlurmCluster.Instance;
        var script = WriteScript("array.sh", $"""
            #SBATCH --array=0-3%2
            #SBATCH --cpus-per-task=1
            #SBATCH --output={Folder}/%A_%a.out
            echo "$SLURM_ARRAY_TASK_ID $SLURM_CPUS_PER_TASK" > "{Folder}/task-$SLURM_ARRAY_TASK_ID.txt"
            echo "element $SLURM_ARRAY_TASK_ID done"
            """);

        var jobId = cluster.Sbatch(script);
        var completions = cluster.WaitUntilDone(jobId, TimeSpan.FromSeconds(45));

        Assert.Equal([0, 1, 2, 3], completions.Select(c => c.ArrayTaskId));
        Assert.All(completions, c => Assert.Equal(("COMPLETED", 0), (c.State, c.ExitCode)));
        Assert.All(cluster.Squeue(jobId), job => Assert.Equal("COMPLETED", job.State));
        for (var task = 0; task < 4; task++)
        {
            Assert.Equal($"{task} 1", File.ReadAllText(Path.Combine(Folder, $"task-{task}.txt")).Trim());
            Assert.Equal($"element {task} done", File.ReadAllText(Path.Combine(Folder, $"{jobId}_{task}.out")).Trim());
        }
    }

    [Fact]
    public void FailedElementIsReportedWithItsExitCode()
    {
        var cluster = SlurmCluster.Instance;
        var script = WriteScript("fails.sh", """
            #SBATCH --array=0-1
            #SBATCH --output=/dev/null
            exit $((SLURM_ARRAY_TASK_ID * 3))
            """);

        var completions = cluster.WaitUntilDone(cluster.Sbatch(script), TimeSpan.FromSeconds(45));

        Assert.Equal([(0, "COMPLETED", 0), (1, "FAILED", 3)], completions.Select(c => (c.ArrayTaskId ?? -1, c.State, c.ExitCode)));
    }
}
