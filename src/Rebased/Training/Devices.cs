using Rebased.Native;

namespace Rebased.Training;

/// <summary>Parses and checks a device name ("cpu", "cuda", "cuda:N") against the devices this host has.</summary>
public static class Devices
{
    public static torch.Device Parse(string name) =>
        TryParse(name, out var device) is { } problem ? throw new UserError($"device '{name}': {problem}") : device!;

    /// <summary>Null and the device when this host has it, else what is wrong (naming the devices that exist).</summary>
    public static string? TryParse(string name, out torch.Device? device)
    {
        device = null;
        if (name == "cpu")
        {
            device = torch.CPU;
            return null;
        }
        if (name != "cuda" && !(name.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(name[5..], out _)))
            return "expected cpu, cuda or cuda:N";
        TorchRuntime.EnsureLoaded();
        if (!torch.cuda.is_available())
            return "this host has 0 CUDA devices that libtorch can use (the CPU build of libtorch is loaded unless REBASED_LIBTORCH names a CUDA libtorch; run `rebased info`); use cpu";
        int index = name == "cuda" ? 0 : int.Parse(name[5..]);
        int count = torch.cuda.device_count();
        if (index >= count) return $"this host has {count} CUDA device(s): cuda:0..cuda:{count - 1}";
        device = new torch.Device(DeviceType.CUDA, index);
        return null;
    }
}
