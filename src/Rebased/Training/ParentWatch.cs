using System.Globalization;

namespace Rebased.Training;

/// <summary>
/// A sweep passes its process id to the trainers it starts (REBASED_PARENT_PID); a trainer watches that process
/// and stops as on SIGTERM (a checkpoint at the next step boundary) once it is gone, so killing a sweep, even
/// with kill -9, leaves no trainer behind. The process's start time guards against a reused id. A process
/// that is not visible when the watch starts (a trainer in a container started by a launcher) is not watched.
/// </summary>
public sealed class ParentWatch : IDisposable
{
    public const string EnvironmentVariable = "REBASED_PARENT_PID";

    private readonly Timer _timer;

    private ParentWatch(int pid, string startTime, Action onGone, TimeSpan interval)
    {
        int fired = 0;
        _timer = new Timer(_ =>
        {
            if (StartTime(pid) == startTime || Interlocked.Exchange(ref fired, 1) == 1) return;
            onGone();
        }, null, interval, interval);
    }

    /// <summary>Watches the process named by REBASED_PARENT_PID; null when the variable is unset or that process is not visible.</summary>
    public static ParentWatch? FromEnvironment(Action onGone, TimeSpan? interval = null)
    {
        if (!int.TryParse(Environment.GetEnvironmentVariable(EnvironmentVariable), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) return null;
        return StartTime(pid) is { } startTime ? new ParentWatch(pid, startTime, onGone, interval ?? TimeSpan.FromSeconds(1)) : null;
    }

    /// <summary>Field 22 of /proc/PID/stat (start time in clock ticks since boot); null for a missing or zombie process.</summary>
    private static string? StartTime(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return fields[0] is "Z" or "X" ? null : fields[19];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    public void Dispose() => _timer.Dispose();
}
