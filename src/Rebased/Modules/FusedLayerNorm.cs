using Rebased.Kernels.Normalization;
using TorchSharp.Modules;
using TorchSharp.Utils;

namespace Rebased.Modules;

/// <summary>
/// nn.LayerNorm over the last dimension with the same parameters (weight = 1, bias = 0, in that order; none without
/// elementwise_affine) and state-dict names, whose forward takes the fused CUDA kernels where they apply
/// (<see cref="LayerNormForms.Apply"/>) and libtorch's layer_norm elsewhere.
/// </summary>
public sealed class FusedLayerNorm : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "weight")] private readonly Parameter? _weight;
    [ComponentName(Name = "bias")] private readonly Parameter? _bias;

    public FusedLayerNorm(long width, double eps = 1e-5, bool elementwiseAffine = true) : base(nameof(FusedLayerNorm))
    {
        Width = width;
        Eps = eps;
        if (!elementwiseAffine) return;
        _weight = new Parameter(ones(width));
        _bias = new Parameter(zeros(width));
        register_parameter("weight", _weight);
        register_parameter("bias", _bias);
    }

    public long Width { get; }
    public double Eps { get; }

    public override Tensor forward(Tensor x)
    {
        if (x.dim() == 0 || x.shape[^1] != Width)
            throw new ArgumentException($"layer norm over {Width} features got an input of shape [{string.Join(", ", x.shape)}]");
        return LayerNormForms.Apply(x, _weight, _bias, Eps);
    }
}
