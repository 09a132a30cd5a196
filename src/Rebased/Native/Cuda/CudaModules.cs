using System.Security.Cryptography;
using System.Text;

namespace Rebased.Native;

/// <summary>
/// Run-time compiled CUDA modules: NVRTC output cached on disk under
/// <c>$XDG_CACHE_HOME/rebased/cuda</c> (default <c>~/.cache/rebased/cuda</c>) by a hash of source, options,
/// architecture and NVRTC version; loaded once per process into the device's primary context.
/// </summary>
public static class CudaModules
{
    private static readonly object Gate = new();
    private static readonly Dictionary<string, IntPtr> Loaded = new();

    public static string CacheDirectory
    {
        get
        {
            var root = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
                ? xdg
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            return Path.Combine(root, "rebased", "cuda");
        }
    }

    /// <summary>The module built from <paramref name="source"/> with these macro definitions, for device <paramref name="ordinal"/>.</summary>
    public static IntPtr Get(int ordinal, string name, string source, IReadOnlyList<string> defines)
    {
        CudaDriver.UsePrimaryContext(ordinal);
        var options = Options(ordinal, defines);
        var (_, nvrtcVersion) = Nvrtc.Describe();
        var key = Hash(source + "\n" + string.Join('\n', options) + "\nnvrtc " + nvrtcVersion);
        lock (Gate)
        {
            if (Loaded.TryGetValue($"{ordinal}:{key}", out var module)) return module;
            var cubin = CachedCubin(key, () => Nvrtc.CompileToCubin(source, name, options));
            module = CudaDriver.LoadModule(cubin);
            Loaded[$"{ordinal}:{key}"] = module;
            return module;
        }
    }

    /// <summary>
    /// Kernel <paramref name="kernel"/> of the CUDA source embedded in this assembly as <paramref name="file"/>, compiled
    /// with these macro definitions for device <paramref name="ordinal"/> (see <see cref="Get"/>); looked up once per
    /// process, so launches pay a dictionary lookup, not a hash of the source.
    /// </summary>
    public static IntPtr Function(int ordinal, string file, IReadOnlyList<string> defines, string kernel, int maxDynamicShared = 0)
    {
        var key = (ordinal, file, string.Join('\n', defines), kernel, maxDynamicShared);
        lock (Functions)
        {
            if (Functions.TryGetValue(key, out var function)) return function;
            function = CudaDriver.GetFunction(Get(ordinal, file, EmbeddedSource(file), defines), kernel, maxDynamicShared);
            Functions[key] = function;
            return function;
        }
    }

    /// <summary>
    /// Launches <see cref="Function"/>(…, <paramref name="kernel"/>) on the device of <paramref name="onDevice"/>, in its
    /// primary context and on the legacy default stream (ordered with libtorch's work); <paramref name="sharedBytes"/> of
    /// dynamic shared memory, opted into above 48 KB.
    /// </summary>
    public static unsafe void Launch(TorchSharp.torch.Tensor onDevice, string file, IReadOnlyList<string> defines, string kernel,
        (uint X, uint Y, uint Z) grid, uint threads, uint sharedBytes, void** args)
    {
        int ordinal = DevicePointers.Ordinal(onDevice);
        var function = Function(ordinal, file, defines, kernel, (int)sharedBytes);
        CudaDriver.UsePrimaryContext(ordinal);
        CudaDriver.Launch(function, grid, threads, sharedBytes, args, kernel);
    }

    private static readonly Dictionary<(int, string, string, string, int), IntPtr> Functions = new();
    private static readonly Dictionary<string, string> Sources = new();

    /// <summary>The text of the embedded resource whose name ends with <paramref name="file"/> (the kernels' .cu files).</summary>
    public static string EmbeddedSource(string file)
    {
        lock (Sources)
        {
            if (Sources.TryGetValue(file, out var text)) return text;
            var assembly = typeof(CudaModules).Assembly;
            using var stream = assembly.GetManifestResourceStream(
                assembly.GetManifestResourceNames().Single(n => n.EndsWith(file, StringComparison.Ordinal)))!;
            text = new StreamReader(stream).ReadToEnd();
            Sources[file] = text;
            return text;
        }
    }

    /// <summary>NVRTC options for device <paramref name="ordinal"/>: its architecture, C++17 and the macro definitions.</summary>
    public static List<string> Options(int ordinal, IEnumerable<string> defines)
    {
        var (major, minor) = CudaDriver.ComputeCapability(ordinal);
        return Options($"sm_{major}{minor}", defines);
    }

    /// <summary>NVRTC options for <paramref name="architecture"/> (e.g. sm_90), without a device.</summary>
    public static List<string> Options(string architecture, IEnumerable<string> defines)
    {
        var options = new List<string> { $"--gpu-architecture={architecture}", "-std=c++17" };
        options.AddRange(defines.Select(d => "-D" + d));
        return options;
    }

    private static byte[] CachedCubin(string key, Func<byte[]> compile)
    {
        var path = Path.Combine(CacheDirectory, key + ".cubin");
        try
        {
            if (File.Exists(path)) return File.ReadAllBytes(path);
        }
        catch (IOException)
        {
        }
        var cubin = compile();
        try
        {
            Directory.CreateDirectory(CacheDirectory);
            var temp = path + "." + Environment.ProcessId + ".tmp";
            File.WriteAllBytes(temp, cubin);
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // An unwritable cache only costs a recompilation next time.
        }
        return cubin;
    }

    private static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..32];
}
