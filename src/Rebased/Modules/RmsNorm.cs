using TorchSharp.Modules;
using TorchSharp.Utils;

namespace Rebased.Modules;

/// <summary>
/// RMSNorm as the reference's Mamba blocks use it: y = x / √(mean(x²) + eps) · weight, weight initialised to 1.
/// </summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "weight")] private readonly Parameter _weight;
    private readonly double _eps;

    public RmsNorm(string name, int dim, double eps = 1e-5) : base(name)
    {
        _eps = eps;
        _weight = new Parameter(ones(dim));
        register_parameter("weight", _weight);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = x * (x.square().mean(new long[] { -1 }, keepdim: true) + _eps).rsqrt() * _weight;
        return y.MoveToOuterDisposeScope();
    }
}
