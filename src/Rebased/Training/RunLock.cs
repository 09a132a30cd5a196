namespace Rebased.Training;

/// <summary>
/// The one-trainer-per-run rule: a trainer holds an exclusive lock on DIR/trainer.lock for its whole life
/// (FileShare.None, an flock on Linux), taken before it reads or writes anything else in the run directory.
/// The operating system drops the lock when the process ends however it ends (kill -9 included), so a stale
/// lock never blocks a run. The file itself is never deleted: a trainer that opened a deleted lock file and
/// one that created a new file would both hold "the" lock.
/// </summary>
public sealed class RunLock : IDisposable
{
    public const string FileName = "trainer.lock";

    private readonly FileStream _stream;

    private RunLock(FileStream stream) => _stream = stream;

    public static string PathIn(string runDir) => Path.Combine(runDir, FileName);

    /// <summary>Takes the run directory's lock (creating the directory), or throws a <see cref="UserError"/> naming
    /// the trainer that holds it.</summary>
    public static RunLock Acquire(string runDir)
    {
        Directory.CreateDirectory(runDir);
        try
        {
            return new RunLock(new FileStream(PathIn(runDir), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
        }
        catch (IOException) when (File.Exists(PathIn(runDir)))
        {
            var pids = TrainerProcesses.Of(runDir);
            var who = pids.Count > 0 ? $"process {string.Join(", ", pids)}" : "another process";
            throw new UserError($"{Path.GetFullPath(runDir)}: {who} is training this run (it holds {FileName}); wait for it to stop, or stop it first");
        }
    }

    /// <summary>Whether a live process holds the lock. Probing takes the lock for an instant, so only the one
    /// who is about to start the run's trainer should ask.</summary>
    public static bool IsHeld(string runDir)
    {
        if (!File.Exists(PathIn(runDir))) return false;
        try
        {
            using var probe = new FileStream(PathIn(runDir), FileMode.Open, FileAccess.Read, FileShare.None);
            return false;
        }
        catch (FileNotFoundException) { return false; }
        catch (IOException) { return true; }
    }

    public void Dispose() => _stream.Dispose();
}

/// <summary>The processes on this machine training a run directory: `train --run-dir DIR` or `train --resume DIR`,
/// with DIR resolved against the process's working directory (Linux /proc).</summary>
public static class TrainerProcesses
{
    public static IReadOnlyList<int> Of(string runDir)
    {
        var target = Path.TrimEndingDirectorySeparator(Path.GetFullPath(runDir));
        var found = new List<int>();
        if (!Directory.Exists("/proc")) return found;
        foreach (var proc in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(proc), out var pid) || pid == Environment.ProcessId) continue;
            try
            {
                var args = File.ReadAllText(Path.Combine(proc, "cmdline")).Split('\0');
                string? cwd = null;
                for (int i = 0; i + 1 < args.Length; i++)
                {
                    if (args[i] is not ("--run-dir" or "--resume")) continue;
                    cwd ??= new DirectoryInfo(Path.Combine(proc, "cwd")).LinkTarget ?? "/";
                    if (Path.TrimEndingDirectorySeparator(Path.GetFullPath(args[i + 1], cwd)) == target) { found.Add(pid); break; }
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException) { } // gone, not ours, or an odd argument
        }
        return found;
    }
}
