using Rebased.Kernels.LinearAttention;
using Rebased.Modules;
using TorchSharp.Utils;

namespace Rebased.Mixers;

/// <summary>
/// Based linear attention: kernel 1 + s + s²/2 with s = q·k/√F (the second-order Taylor expansion of exp),
/// causally normalised. With <c>qk_norm</c> q and k first pass a LayerNorm over all H·F features (ln_q, ln_k).
/// </summary>
public sealed class Based : PolynomialAttention
{
    [ComponentName(Name = "ln_q")] private readonly FusedLayerNorm? _lnQ;
    [ComponentName(Name = "ln_k")] private readonly FusedLayerNorm? _lnK;

    public Based(int dModel, int featureDim = 16, int numHeads = 12, bool qkNorm = false, string attentionForm = "auto", double eps = DefaultEps)
        : base(nameof(Based), dModel, featureDim, numHeads, PolynomialKernel.Based, attentionForm, eps)
    {
        if (!qkNorm) return;
        _lnQ = new FusedLayerNorm(featureDim * numHeads);
        _lnK = new FusedLayerNorm(featureDim * numHeads);
        register_module("ln_q", _lnQ);
        register_module("ln_k", _lnK);
    }

    public static Based FromKwargs(MixerKwargs kwargs, int dModel)
    {
        var (featureDim, numHeads, form, eps) = ReadCommon(kwargs);
        var module = new Based(dModel, featureDim, numHeads, kwargs.Bool("qk_norm", false), form, eps);
        kwargs.RejectUnused();
        return module;
    }

    protected override (Tensor Q, Tensor K) TransformQueryKey(Tensor q, Tensor k) =>
        _lnQ is null || _lnK is null ? (q, k) : (_lnQ.forward(q), _lnK.forward(k));
}
