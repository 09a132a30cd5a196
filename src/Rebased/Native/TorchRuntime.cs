using System.Reflection;
using System.Runtime.InteropServices;

namespace Rebased.Native;

/// <summary>
/// Chooses the libtorch that TorchSharp runs on and reports what was loaded.
/// Default: the CPU libtorch package next to the application. With <c>REBASED_LIBTORCH</c> naming a
/// folder (for example a PyTorch installation's <c>torch/lib</c>), that folder's libraries are loaded
/// first, so that TorchSharp binds to them (CUDA included).
/// </summary>
public static class TorchRuntime
{
    public const string LibtorchVariable = "REBASED_LIBTORCH";
    private static readonly object Gate = new();
    private static bool _initialised;

    /// <summary>The folder named by <c>REBASED_LIBTORCH</c>, or null when it is not set.</summary>
    public static string? LibtorchOverride =>
        Environment.GetEnvironmentVariable(LibtorchVariable) is { Length: > 0 } dir ? Path.GetFullPath(dir) : null;

    /// <summary>Loads libtorch once per process; throws a clear error naming what is missing.</summary>
    public static void EnsureLoaded()
    {
        lock (Gate)
        {
            if (_initialised) return;
            if (LibtorchOverride is { } dir) PreloadFrom(dir);
            else if (!BundledLibtorchPresent())
                throw new InvalidOperationException(
                    $"no libtorch found next to the application and {LibtorchVariable} is not set: set {LibtorchVariable} to a libtorch 'lib' folder " +
                    "(e.g. a PyTorch installation's torch/lib) or build with the libtorch-cpu-linux-x64 package");
            try
            {
                torch.InitializeDeviceType(DeviceType.CPU);
            }
            catch (Exception e) when (e is DllNotFoundException or NotSupportedException or TypeInitializationException)
            {
                throw new InvalidOperationException(
                    "TorchSharp could not load libtorch" + (LibtorchOverride is { } d ? $" from {LibtorchVariable}={d}" : "") +
                    $": {e.Message}. Run `rebased info` for details; see README.md, Troubleshooting.", e);
            }
            _initialised = true;
        }
    }

    private static bool BundledLibtorchPresent() =>
        new[] { "", "runtimes/linux-x64/native" }.Any(sub => File.Exists(Path.Combine(AppContext.BaseDirectory, sub, "libtorch_cpu.so")));

    /// <summary>
    /// Runs a small matmul and autograd computation on the CPU and on every CUDA device and returns,
    /// per device, the largest absolute difference from the CPU result (float64 inputs).
    /// </summary>
    public static IReadOnlyList<(string Device, double MaxAbsDifference)> CheckDevices()
    {
        EnsureLoaded();
        var results = new List<(string, double)>();
        using var generator = new torch.Generator(1234);
        using var a = torch.randn(new long[] { 256, 256 }, torch.ScalarType.Float64, generator: generator);
        using var b = torch.randn(new long[] { 256, 256 }, torch.ScalarType.Float64, generator: generator);
        var reference = Compute(a, b);
        int count = torch.cuda.is_available() ? torch.cuda.device_count() : 0;
        for (int i = 0; i < count; i++)
        {
            var device = torch.device(DeviceType.CUDA, i);
            var (product, gradient) = Compute(a.to(device), b.to(device));
            double diff = Math.Max(
                (product.cpu() - reference.Product).abs().max().item<double>(),
                (gradient.cpu() - reference.Gradient).abs().max().item<double>());
            results.Add(($"cuda:{i}", diff));
        }
        return results;

        static (torch.Tensor Product, torch.Tensor Gradient) Compute(torch.Tensor x, torch.Tensor y)
        {
            var leaf = x.detach().requires_grad_(true);
            var product = torch.matmul(leaf, y);
            product.tanh().sum().backward();
            return (product.detach(), leaf.grad!);
        }
    }

    private static void PreloadFrom(string dir)
    {
        if (!Directory.Exists(dir))
            throw new InvalidOperationException($"{LibtorchVariable}={dir}: folder does not exist");
        if (!File.Exists(Path.Combine(dir, "libtorch.so")))
            throw new InvalidOperationException($"{LibtorchVariable}={dir}: no libtorch.so in that folder (expected a libtorch 'lib' folder, e.g. torch/lib of a PyTorch installation)");
        // Dependencies first: a later dlopen of libLibTorchSharp.so then resolves its DT_NEEDED entries
        // (libtorch.so, libc10.so, ...) to these already loaded objects by soname.
        foreach (var name in new[] { "libc10.so", "libc10_cuda.so", "libtorch_cpu.so", "libtorch_cuda.so", "libtorch.so" })
        {
            var path = Path.Combine(dir, name);
            if (File.Exists(path)) NativeLibrary.Load(path);
        }
    }

    /// <summary>Path of the loaded shared object whose file name starts with <paramref name="prefix"/>, from /proc/self/maps.</summary>
    public static string? LoadedLibrary(string prefix)
    {
        if (!File.Exists("/proc/self/maps")) return null;
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            int slash = line.IndexOf('/');
            if (slash < 0) continue;
            var path = line[slash..].Trim();
            if (Path.GetFileName(path).StartsWith(prefix, StringComparison.Ordinal)) return path;
        }
        return null;
    }

    /// <summary>Facts about the runtime, for <c>rebased info</c> and for run records.</summary>
    public static IReadOnlyList<(string Key, string Value)> Describe()
    {
        var rows = new List<(string, string)>
        {
            (".NET", RuntimeInformation.FrameworkDescription),
            ("OS", RuntimeInformation.OSDescription),
            ("TorchSharp", typeof(torch).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? typeof(torch).Assembly.GetName().Version?.ToString() ?? "?"),
            (LibtorchVariable, LibtorchOverride ?? "(not set: CPU libtorch package)"),
        };
        var system = GlibcxxCompat.SystemLibstdcxx();
        bool needsPatch = system is not null && GlibcxxCompat.NeedsPatch(File.ReadAllBytes(system));
        rows.Add(("system libstdc++", system is null ? "not found" : $"{system} ({(needsPatch ? "lacks" : "has")} {GlibcxxCompat.RequiredVersion})"));
        EnsureLoaded();
        var libtorch = LoadedLibrary("libtorch_cpu.so") ?? LoadedLibrary("libtorch.so");
        rows.Add(("libtorch", libtorch is null ? "?" : Path.GetDirectoryName(libtorch)!));
        rows.Add(("libtorch version", LibtorchVersion(libtorch)));
        var bridge = LoadedLibrary(GlibcxxCompat.LibraryName);
        string compat = bridge is null ? "?" : GlibcxxCompat.RequirementOf(File.ReadAllBytes(bridge)) switch
        {
            GlibcxxCompat.Requirement.Weak => $"active ({GlibcxxCompat.RequiredVersion} marked weak in {bridge})",
            GlibcxxCompat.Requirement.Strong => $"not applied ({bridge} requires {GlibcxxCompat.RequiredVersion})",
            _ => "not needed",
        };
        rows.Add(("compat fix", compat));
        rows.Add(("CPU threads", $"{torch.get_num_threads()} (of {Environment.ProcessorCount} logical processors)"));
        bool cuda = torch.cuda.is_available();
        rows.Add(("CUDA", cuda ? "available" : "not available"));
        if (cuda)
        {
            int count = torch.cuda.device_count();
            rows.Add(("CUDA devices", count.ToString()));
            for (int i = 0; i < count; i++) rows.Add(($"cuda:{i}", CudaDeviceName(i)));
        }
        return rows;
    }

    private static string LibtorchVersion(string? libtorchPath)
    {
        if (libtorchPath is null) return "?";
        var dir = Path.GetDirectoryName(libtorchPath)!;
        foreach (var candidate in new[] { Path.Combine(dir, "..", "version.py"), Path.Combine(dir, "..", "build-version") })
        {
            if (!File.Exists(candidate)) continue;
            bool python = candidate.EndsWith(".py", StringComparison.Ordinal);
            foreach (var line in File.ReadLines(candidate))
            {
                if (python && line.StartsWith("__version__", StringComparison.Ordinal)) return line.Split('=')[1].Trim().Trim('\'', '"');
                if (!python && line.Trim().Length > 0) return line.Trim();
            }
        }
        return "2.10.0 (TorchSharp package)";
    }

    /// <summary>The device's hardware name ("NVIDIA H100 80GB HBM3" for cuda:0 on such a GPU), or "cpu".</summary>
    public static string HardwareName(torch.Device device) =>
        device.type == DeviceType.CUDA ? CudaDeviceName(device.index < 0 ? 0 : device.index) : "cpu";

    private static string CudaDeviceName(int index)
    {
        try
        {
            return CudaDriver.DeviceName(index);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or InvalidOperationException)
        {
            return "(name unavailable: " + e.Message + ")";
        }
    }
}
