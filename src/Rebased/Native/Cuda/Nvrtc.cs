using System.Runtime.InteropServices;
using System.Text;

namespace Rebased.Native;

/// <summary>
/// NVRTC, CUDA's run-time compiler, loaded from the usual places: the loader's search path (libnvrtc.so.13,
/// .12, and .11.2 as Debian packages CUDA 11.8's), CUDA_HOME / CUDA_PATH, /usr/local/cuda*, and next to the libtorch in use (PyTorch's nvidia/*/lib).
/// </summary>
public static unsafe class Nvrtc
{
    private static readonly object Gate = new();
    private static Api? _api;

    private sealed class Api
    {
        public required string Path;
        public required delegate* unmanaged<int, byte*> GetErrorString;
        public required delegate* unmanaged<int*, int*, int> Version;
        public required delegate* unmanaged<IntPtr*, byte*, byte*, int, byte**, byte**, int> CreateProgram;
        public required delegate* unmanaged<IntPtr*, int> DestroyProgram;
        public required delegate* unmanaged<IntPtr, int, byte**, int> CompileProgram;
        public required delegate* unmanaged<IntPtr, nuint*, int> GetProgramLogSize;
        public required delegate* unmanaged<IntPtr, byte*, int> GetProgramLog;
        public required delegate* unmanaged<IntPtr, nuint*, int> GetCubinSize;
        public required delegate* unmanaged<IntPtr, byte*, int> GetCubin;
    }

    /// <summary>Candidate file names and paths, most specific first.</summary>
    public static IEnumerable<string> Candidates()
    {
        var names = new[] { "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so" };
        var dirs = new List<string>();
        foreach (var variable in new[] { "CUDA_HOME", "CUDA_PATH" })
            if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } home)
            {
                dirs.Add(System.IO.Path.Combine(home, "lib64"));
                dirs.Add(System.IO.Path.Combine(home, "targets", "x86_64-linux", "lib"));
            }
        if (TorchRuntime.LibtorchOverride is { } torchLib)
        {
            // torch/lib → site-packages/nvidia/{cu13,cuda_nvrtc}/lib
            var sitePackages = System.IO.Path.GetFullPath(System.IO.Path.Combine(torchLib, "..", ".."));
            dirs.Add(System.IO.Path.Combine(sitePackages, "nvidia", "cu13", "lib"));
            dirs.Add(System.IO.Path.Combine(sitePackages, "nvidia", "cuda_nvrtc", "lib"));
            dirs.Add(torchLib);
        }
        dirs.Add("/usr/local/cuda/lib64");
        dirs.Add("/usr/local/cuda/targets/x86_64-linux/lib");
        if (Directory.Exists("/usr/local"))
            dirs.AddRange(Directory.GetDirectories("/usr/local", "cuda-*").OrderDescending().Select(d => System.IO.Path.Combine(d, "lib64")));
        foreach (var name in names) yield return name;
        foreach (var dir in dirs)
            foreach (var name in names)
                yield return System.IO.Path.Combine(dir, name);
    }

    private static Api Load()
    {
        lock (Gate)
        {
            if (_api is not null) return _api;
            foreach (var candidate in Candidates())
            {
                if (candidate.Contains('/') && !File.Exists(candidate)) continue;
                if (!NativeLibrary.TryLoad(candidate, out IntPtr handle)) continue;
                IntPtr F(string name) => NativeLibrary.GetExport(handle, name);
                _api = new Api
                {
                    Path = candidate,
                    GetErrorString = (delegate* unmanaged<int, byte*>)F("nvrtcGetErrorString"),
                    Version = (delegate* unmanaged<int*, int*, int>)F("nvrtcVersion"),
                    CreateProgram = (delegate* unmanaged<IntPtr*, byte*, byte*, int, byte**, byte**, int>)F("nvrtcCreateProgram"),
                    DestroyProgram = (delegate* unmanaged<IntPtr*, int>)F("nvrtcDestroyProgram"),
                    CompileProgram = (delegate* unmanaged<IntPtr, int, byte**, int>)F("nvrtcCompileProgram"),
                    GetProgramLogSize = (delegate* unmanaged<IntPtr, nuint*, int>)F("nvrtcGetProgramLogSize"),
                    GetProgramLog = (delegate* unmanaged<IntPtr, byte*, int>)F("nvrtcGetProgramLog"),
                    GetCubinSize = (delegate* unmanaged<IntPtr, nuint*, int>)F("nvrtcGetCUBINSize"),
                    GetCubin = (delegate* unmanaged<IntPtr, byte*, int>)F("nvrtcGetCUBIN"),
                };
                return _api;
            }
            throw new UserError("NVRTC (libnvrtc.so.13, .12 or .11.2) was not found: install the CUDA toolkit's NVRTC, set CUDA_HOME, " +
                                "or point REBASED_LIBTORCH at a PyTorch torch/lib whose nvidia/cu13/lib holds it");
        }
    }

    private static void Check(Api api, int result, string call)
    {
        if (result != 0)
            throw new InvalidOperationException($"NVRTC call {call} failed: {Marshal.PtrToStringUTF8((IntPtr)api.GetErrorString(result))}");
    }

    /// <summary>The loaded library's path and version, e.g. ("libnvrtc.so.13", "13.0").</summary>
    public static (string Path, string Version) Describe()
    {
        var api = Load();
        int major, minor;
        Check(api, api.Version(&major, &minor), "nvrtcVersion");
        return (api.Path, $"{major}.{minor}");
    }

    /// <summary>Compiles CUDA C++ to a CUBIN; a <see cref="UserError"/> carrying the compiler's log on failure.</summary>
    public static byte[] CompileToCubin(string source, string name, IReadOnlyList<string> options) =>
        Compile(source, name, options).Cubin;

    /// <summary>Compiles and returns the CUBIN with the compiler's log (e.g. ptxas resource usage with --ptxas-options=-v).</summary>
    public static (byte[] Cubin, string Log) Compile(string source, string name, IReadOnlyList<string> options)
    {
        var api = Load();
        var sourceBytes = Encoding.UTF8.GetBytes(source + "\0");
        var nameBytes = Encoding.UTF8.GetBytes(name + "\0");
        var optionHandles = options.Select(o => Marshal.StringToHGlobalAnsi(o)).ToArray();
        IntPtr program = IntPtr.Zero;
        try
        {
            fixed (byte* src = sourceBytes)
            fixed (byte* nm = nameBytes)
                Check(api, api.CreateProgram(&program, src, nm, 0, null, null), "nvrtcCreateProgram");
            int result;
            var opts = stackalloc byte*[Math.Max(1, optionHandles.Length)];
            for (int i = 0; i < optionHandles.Length; i++) opts[i] = (byte*)optionHandles[i];
            result = api.CompileProgram(program, optionHandles.Length, opts);
            if (result != 0)
                throw new UserError($"NVRTC could not compile {name} ({string.Join(' ', options)}): {Log(api, program).Trim()}");
            nuint size;
            Check(api, api.GetCubinSize(program, &size), "nvrtcGetCUBINSize");
            var cubin = new byte[(int)size];
            fixed (byte* p = cubin) Check(api, api.GetCubin(program, p), "nvrtcGetCUBIN");
            return (cubin, Log(api, program));
        }
        finally
        {
            foreach (var h in optionHandles) Marshal.FreeHGlobal(h);
            if (program != IntPtr.Zero) api.DestroyProgram(&program);
        }
    }

    private static string Log(Api api, IntPtr program)
    {
        nuint size;
        if (api.GetProgramLogSize(program, &size) != 0 || size == 0) return "";
        var log = new byte[(int)size];
        fixed (byte* p = log)
        {
            api.GetProgramLog(program, p);
            return Marshal.PtrToStringUTF8((IntPtr)p) ?? "";
        }
    }
}
