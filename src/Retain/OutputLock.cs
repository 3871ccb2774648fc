using System.Globalization;
using System.Text;

namespace Retain;

/// <summary>
/// An exclusive claim on a set of output files for as long as a command writes them (a run's whole life, a study's,
/// a report's): a second command onto the same outputs is refused with exit code 2, naming the holder's PID, instead
/// of the two silently replacing each other's results. Every command that writes takes one.
/// <para>
/// The claim is a lock on <c>&lt;stem&gt;.lock</c> (the outputs' path without extension: a run's matrix, record and
/// checkpoint share it): an operating-system record lock, so the kernel releases it when the process ends however it
/// ends (SIGKILL, a power cut), and an in-process registry, since record locks do not exclude the process that holds
/// them. The file holds the holder's PID and stays after release (removing it would race with the next holder); it is
/// harmless to delete when nothing runs.
/// </para>
/// </summary>
internal sealed class OutputLock : IDisposable
{
    public const string Extension = ".lock";

    /// <summary>The byte range locked: past the PID text, so that a refused process can still read the PID.</summary>
    private const long LockedOffset = 1L << 20;

    private static readonly HashSet<string> HeldHere = [];

    private readonly List<(string Path, FileStream Stream)> _held = [];

    private OutputLock() { }

    /// <summary>The lock file of the outputs at <paramref name="stem"/> (a path without extension).</summary>
    public static string FileFor(string stem) => Path.GetFullPath(stem + Extension);

    /// <summary>
    /// Locks <c>&lt;stem&gt;.lock</c> for each stem (creating its folder), all or none. <paramref name="what"/> names
    /// the outputs in the refusal (<c>res/mnist2_sgd_0.txt</c>, <c>study quick</c>).
    /// </summary>
    public static OutputLock Acquire(string what, params IEnumerable<string> stems)
    {
        var claim = new OutputLock();
        try
        {
            foreach (var file in stems.Select(FileFor).Distinct()) claim.Take(file, what);
        }
        catch
        {
            claim.Dispose();
            throw;
        }
        return claim;
    }

    /// <summary>
    /// Refuses, naming the holder, when another command holds the lock of any of <paramref name="stems"/>; creates
    /// nothing. For a check before the outputs are inspected, whose findings another command may be changing.
    /// </summary>
    public static void RequireFree(string what, params IEnumerable<string> stems)
    {
        foreach (var file in stems.Select(FileFor).Distinct())
            if (HeldBy(file) is { } pid) throw InUse(what, file, pid);
    }

    /// <summary>
    /// The PID of the command that holds the lock file <paramref name="file"/> ("unknown" where it cannot be read),
    /// or null when none does (no file, or one that cannot be opened: nothing is known to run). .NET cannot ask
    /// without taking, so a free lock is taken and let go at once; a command starting meanwhile tries again (<see cref="Open"/>).
    /// </summary>
    public static string? HeldBy(string file)
    {
        lock (HeldHere)
            if (HeldHere.Contains(file)) return Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        try
        {
            var (stream, holder) = OpenOnce(file, FileMode.Open);
            stream?.Dispose();   // closing lets the lock go
            return holder;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    private void Take(string file, string what)
    {
        lock (HeldHere)
            if (!HeldHere.Add(file))
                throw InUse(what, file, Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        FileStream? stream = null;
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            stream = Open(file, what, FileMode.OpenOrCreate);
            stream.SetLength(0);
            stream.Write(Encoding.UTF8.GetBytes(Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n"));
            stream.Flush(flushToDisk: false);
            _held.Add((file, stream));
        }
        catch (Exception e)
        {
            stream?.Dispose();
            lock (HeldHere) HeldHere.Remove(file);
            if (e is UnauthorizedAccessException or IOException)
                throw new RetainException($"{what}: cannot create the lock file {file} ({e.Message.TrimEnd('.')})", e);
            throw;
        }
    }

    /// <summary>
    /// Opens the lock file and locks it, or throws naming the holder. Another command's <see cref="HeldBy"/> (such as
    /// <c>study status</c>, run at any moment) holds the lock for an instant, so a refusal comes only after a few tries.
    /// </summary>
    private static FileStream Open(string file, string what, FileMode mode)
    {
        for (var attempt = 1; ; attempt++)
        {
            var (stream, holder) = OpenOnce(file, mode);
            if (stream is not null) return stream;
            if (attempt == Attempts) throw InUse(what, file, holder!);
            Thread.Sleep(10 * attempt);
        }
    }

    /// <summary>Tries to lock before refusing: 100 ms in all, far longer than a probe holds the lock.</summary>
    private const int Attempts = 5;

    private static (FileStream? Stream, string? Holder) OpenOnce(string file, FileMode mode)
    {
        if (OperatingSystem.IsMacOS())
        {
            // No record locks in .NET on macOS: an exclusive open (flock) instead, which hides the holder's PID.
            try { return (new FileStream(file, mode, FileAccess.ReadWrite, FileShare.None), null); }
            catch (IOException) when (File.Exists(file)) { return (null, "unknown"); }
        }
        var stream = new FileStream(file, mode, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        try { stream.Lock(LockedOffset, 1); }
        catch (IOException)
        {
            var holder = Holder(stream);
            stream.Dispose();
            return (null, holder);
        }
        return (stream, null);
    }

    /// <summary>The PID the holder wrote (a holder that has just taken the lock may not have written it yet).</summary>
    private static string Holder(FileStream stream)
    {
        var buffer = new byte[32];
        var read = stream.Read(buffer);
        var text = Encoding.UTF8.GetString(buffer, 0, read).Trim();
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out _) ? text : "unknown";
    }

    private static RetainException InUse(string what, string file, string pid) =>
        new($"{what}: in use by another retain process (PID {pid}, lock file {file}); wait for it to end, or write elsewhere");

    public void Dispose()
    {
        foreach (var (file, stream) in _held)
        {
            stream.Dispose();
            lock (HeldHere) HeldHere.Remove(file);
        }
        _held.Clear();
    }
}
