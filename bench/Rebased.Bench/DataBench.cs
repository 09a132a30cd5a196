using System.Diagnostics;
using System.Globalization;
using Rebased.Data;
using Rebased.Data.Mqar;
using Rebased.Native;
using TorchSharp;

namespace Rebased.Bench;

/// <summary>
/// MQAR data: generation throughput of both modes side by side at L = 2048, K = 512, V = 8192, and the
/// resident memory of a full 100,000 × 2,048 training set as loaded for training (from the cache), plus
/// CPU batch building.
/// Options: --examples N (fast mode, default 4000), --numpy-examples N (default 500),
/// --full-examples N (memory set, default 100000; 0 skips it), --cache-dir DIR (default: a temporary folder).
/// </summary>
internal static class DataBench
{
    private const int Vocab = 8192, SeqLen = 2048, KvPairs = 512;

    public static int Run(string[] args)
    {
        int fastExamples = Option(args, "--examples", 4000);
        int numpyExamples = Option(args, "--numpy-examples", 500);
        int fullExamples = Option(args, "--full-examples", 100_000);
        string? cacheDir = args.SkipWhile(a => a != "--cache-dir").Skip(1).FirstOrDefault();
        TorchRuntime.EnsureLoaded();

        Console.WriteLine($"MQAR data benchmark: V={Vocab}, L={SeqLen}, K={KvPairs}, {Environment.ProcessorCount} logical cores (shared with other processes)");
        // Warm-up long enough for tiered compilation to reach the optimised code of the hot loops.
        for (int i = 0; i < 3; i++) Generate(new MqarArgs(Vocab, 1000, SeqLen, KvPairs, RandomNonQueries: i == 1, Seed: i), MqarMode.Fast);
        Thread.Sleep(300);
        Generate(new MqarArgs(Vocab, 300, SeqLen, KvPairs, Seed: 1), MqarMode.NumpyCompatible);
        Thread.Sleep(300);

        var fast = Throughput(new MqarArgs(Vocab, fastExamples, SeqLen, KvPairs, Seed: 42), MqarMode.Fast, repeats: 5);
        var fastNoise = Throughput(new MqarArgs(Vocab, fastExamples, SeqLen, KvPairs, RandomNonQueries: true, Seed: 42), MqarMode.Fast, repeats: 5);
        var numpy = Throughput(new MqarArgs(Vocab, numpyExamples, SeqLen, KvPairs, Seed: 42), MqarMode.NumpyCompatible, repeats: 1);
        Console.WriteLine("generation (best of repeats)        wall M tokens/s   M tokens per CPU-second");
        Console.WriteLine($"  fast                              {fast.Wall / 1e6,10:F1}   {fast.PerCpuSecond / 1e6,10:F1}   ({fastExamples} examples; target ≥ 50 wall on 2 cores)");
        Console.WriteLine($"  fast, random_non_queries          {fastNoise.Wall / 1e6,10:F1}   {fastNoise.PerCpuSecond / 1e6,10:F1}");
        Console.WriteLine($"  numpy-compatible (sequential)     {numpy.Wall / 1e6,10:F1}   {numpy.PerCpuSecond / 1e6,10:F1}   ({numpyExamples} examples)");
        Console.WriteLine($"ratio fast / numpy-compatible: wall {fast.Wall / numpy.Wall:F1}x, per CPU-second {fast.PerCpuSecond / numpy.PerCpuSecond:F1}x");

        if (fullExamples > 0) FullSet(fullExamples, cacheDir);
        return 0;
    }

    private static void FullSet(int examples, string? cacheDir)
    {
        var folder = cacheDir ?? Directory.CreateTempSubdirectory("rebased-bench-mqar-").FullName;
        try
        {
            var args = new MqarArgs(Vocab, examples, SeqLen, KvPairs, Seed: 42);
            long tokens = args.TokenCount;
            var watch = Stopwatch.StartNew();
            var generated = MqarCache.LoadOrGenerate(args, MqarMode.Fast, folder);
            double firstSeconds = watch.Elapsed.TotalSeconds;
            Console.WriteLine($"full set {examples} × {SeqLen}: generated (or loaded) and cached in {firstSeconds:F2} s");
            generated = null;

            var (heapBefore, rssBefore) = Memory();
            watch.Restart();
            var data = MqarCache.LoadOrGenerate(args, MqarMode.Fast, folder);
            double loadSeconds = watch.Elapsed.TotalSeconds;
            using var batches = new MqarBatches(data, 64, shuffle: true, seed: 0, torch.CPU);
            var (heapAfter, rssAfter) = Memory();
            Console.WriteLine($"loaded from cache in {loadSeconds:F2} s ({data.ResidentBytes / loadSeconds / 1e9:F2} GB/s)");
            Console.WriteLine($"resident bytes/token: dataset {(double)data.ResidentBytes / tokens:F3} (tokens {data.TokenBytes} B + supervised mask), " +
                              $"managed heap delta {(double)(heapAfter - heapBefore) / tokens:F3}, process RSS delta {(double)(rssAfter - rssBefore) / tokens:F3}  (target ≤ 2.5)");
            Console.WriteLine($"process RSS before loading {rssBefore / 1e9:F2} GB, after {rssAfter / 1e9:F2} GB");

            int count = Math.Min(200, batches.BatchesPerEpoch);
            for (int i = 0; i < count; i++) batches.Batch(1, i).Dispose();
            Thread.Sleep(300);
            watch.Restart();
            for (int i = 0; i < count; i++) batches.Batch(0, i).Dispose();
            double perBatch = watch.Elapsed.TotalSeconds / count;
            Console.WriteLine($"CPU batch building (B=64, int64 inputs/labels/index/targets): {perBatch * 1e3:F2} ms per batch, {64.0 * SeqLen / perBatch / 1e6:F0} M tokens/s");
            GC.KeepAlive(data);
        }
        finally
        {
            if (cacheDir is null) Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>Best of <paramref name="repeats"/>: wall-clock tokens/s, and tokens per second of CPU time this process got (other processes share the cores).</summary>
    private static (double Wall, double PerCpuSecond) Throughput(MqarArgs args, MqarMode mode, int repeats)
    {
        double wall = 0, perCpu = 0;
        using var process = Process.GetCurrentProcess();
        for (int r = 0; r < repeats; r++)
        {
            GC.Collect();
            process.Refresh();
            var cpuBefore = process.TotalProcessorTime;
            var watch = Stopwatch.StartNew();
            var data = Generate(args, mode);
            double seconds = watch.Elapsed.TotalSeconds;
            process.Refresh();
            double cpuSeconds = (process.TotalProcessorTime - cpuBefore).TotalSeconds;
            wall = Math.Max(wall, args.TokenCount / seconds);
            perCpu = Math.Max(perCpu, args.TokenCount / cpuSeconds);
            GC.KeepAlive(data);
        }
        return (wall, perCpu);
    }

    private static MqarDataset Generate(MqarArgs args, MqarMode mode) => MqarGenerator.Generate(args, mode);

    /// <summary>Managed heap and process RSS after a collection that hands freed memory back to the system.</summary>
    private static (long Heap, long Rss) Memory()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        using var process = Process.GetCurrentProcess();
        return (GC.GetTotalMemory(forceFullCollection: true), process.WorkingSet64);
    }

    private static int Option(string[] args, string name, int fallback)
    {
        int at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
