using TorchSharp;

namespace Rebased.Training;

/// <summary>Parses and checks a device name ("cpu", "cuda", "cuda:N").</summary>
public static class Devices
{
    public static torch.Device Parse(string name)
    {
        if (name == "cpu") return torch.CPU;
        if (name != "cuda" && !(name.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(name[5..], out _)))
            throw new UserError($"device '{name}': expected cpu, cuda or cuda:N");
        if (!torch.cuda.is_available())
            throw new UserError($"device '{name}': CUDA is not available to this libtorch (the CPU build is loaded unless REBASED_LIBTORCH names a CUDA libtorch; run `rebased info`)");
        int index = name == "cuda" ? 0 : int.Parse(name[5..]);
        int count = torch.cuda.device_count();
        if (index >= count) throw new UserError($"device '{name}': only {count} CUDA device(s) (cuda:0..cuda:{count - 1})");
        return new torch.Device(DeviceType.CUDA, index);
    }
}
