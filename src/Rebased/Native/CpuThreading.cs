using System.Runtime.InteropServices;

namespace Rebased.Native;

/// <summary>How libtorch's OpenMP worker threads wait between parallel regions.</summary>
public static partial class CpuThreading
{
    public const string WaitPolicyVariable = "OMP_WAIT_POLICY";

    [LibraryImport("libc.so.6", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);

    /// <summary>
    /// Sets OMP_WAIT_POLICY=PASSIVE for this process unless the user set a policy. By default OpenMP threads
    /// spin while waiting for work; on a machine whose cores are shared with other processes (several runs of
    /// a sweep, other jobs) the spinning threads take the cores the working ones need, and a training step
    /// was measured 3–4× slower on 2 shared cores. Must run before libtorch is loaded (OpenMP reads the
    /// variable once, when it starts), so commands call it before <see cref="TorchRuntime.EnsureLoaded"/>.
    /// </summary>
    public static void PreferPassiveWaiting()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable(WaitPolicyVariable) is { Length: > 0 }) return;
        // The native environment, which OpenMP reads; Environment.SetEnvironmentVariable changes only .NET's copy.
        SetEnv(WaitPolicyVariable, "PASSIVE", 0);
        Environment.SetEnvironmentVariable(WaitPolicyVariable, "PASSIVE");
    }
}
