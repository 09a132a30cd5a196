using Rebased.Modules;
using TorchSharp.Modules;
using TorchSharp.Utils;

namespace Rebased.Mixers;

/// <summary>
/// The reference's <c>BaseConv</c> with a short kernel: y = ShortConv(u) ⊙ (W u + b) + u, where ShortConv is a
/// depthwise causal Conv1d with bias (left padding k−1, first L outputs kept). Parameter names:
/// projection.{weight,bias}, conv.conv.{weight,bias}.
/// </summary>
public sealed class BaseConv : nn.Module<Tensor, Tensor>, ISequenceMixer
{
    [ComponentName(Name = "projection")] private readonly Linear _projection;
    [ComponentName(Name = "conv")] private readonly ShortConvolution _conv;

    public BaseConv(int dModel, int kernelSize = 3) : base(nameof(BaseConv))
    {
        if (kernelSize < 1)
            throw new UserError($"BaseConv: kernel_size must be a positive short-convolution width, got {kernelSize} (long convolutions are not supported)");
        DModel = dModel;
        KernelSize = kernelSize;
        _projection = nn.Linear(dModel, dModel);
        _conv = new ShortConvolution(dModel, kernelSize);
        register_module("projection", _projection);
        register_module("conv", _conv);
    }

    public static BaseConv FromKwargs(MixerKwargs kwargs, int dModel, int layerIdx)
    {
        var module = new BaseConv(dModel, kwargs.IntOrPerLayer("kernel_size", 3, layerIdx));
        kwargs.Int("l_max", 0);
        if (kwargs.Bool("use_act", false)) throw new UserError("BaseConv: use_act=true is not supported (the reference's MQAR models use none)");
        if (!kwargs.Bool("implicit_long_conv", true)) throw new UserError("BaseConv: long convolutions are not supported");
        kwargs.RejectUnused();
        return module;
    }

    public int DModel { get; }
    public int KernelSize { get; }

    /// <summary>The kernel_size − 1 previous inputs the causal convolution still needs.</summary>
    public long StateSize(int sequenceLength) => (long)DModel * (KernelSize - 1);

    public override Tensor forward(Tensor u)
    {
        using var scope = NewDisposeScope();
        var y = _conv.forward(u) * MixedPrecision.Linear(_projection, u) + u;
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>Depthwise causal Conv1d on [B, L, d] inputs (the reference's <c>ShortConvolution</c>; parameters conv.{weight,bias}, or conv.weight without bias).</summary>
    public sealed class ShortConvolution : nn.Module<Tensor, Tensor>
    {
        [ComponentName(Name = "conv")] private readonly Conv1d _conv;

        public ShortConvolution(int dModel, int kernelSize, bool bias = true) : base(nameof(ShortConvolution))
        {
            _conv = nn.Conv1d(dModel, dModel, kernelSize, padding: kernelSize - 1, groups: dModel, bias: bias);
            register_module("conv", _conv);
        }

        public override Tensor forward(Tensor x)
        {
            long l = x.shape[1];
            using var scope = NewDisposeScope();
            return _conv.forward(x.transpose(1, 2)).narrow(-1, 0, l).transpose(1, 2).MoveToOuterDisposeScope();
        }
    }
}
