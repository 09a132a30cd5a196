namespace Rebased.Kernels;

/// <summary>A form written in TorchSharp ops alone: it runs on every device, in every floating dtype.</summary>
public abstract class TorchOpsForm(string name) : IKernelForm
{
    public string Name { get; } = name;

    public bool Supports(Device device, ScalarType dtype) => KernelDtypes.IsFloating(dtype);
}
