namespace Rebased.Kernels;

/// <summary>
/// How many threads the C# CPU kernels use: as many as libtorch's intra-op pool (torch.set_num_threads, or
/// OMP_NUM_THREADS at start-up, which sweeps set per run), so that several runs sharing a machine do not
/// oversubscribe its cores.
/// </summary>
internal static class CpuWorkers
{
    public static int Count => Math.Max(1, torch.get_num_threads());

    public static ParallelOptions Options(int workers) => new() { MaxDegreeOfParallelism = Math.Max(1, workers) };
}
