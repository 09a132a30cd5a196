using Rebased.Kernels.DeltaRule;
using Rebased.Models;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Rebased.Mixers;

/// <summary>
/// DeltaNet (the delta rule; Schlag et al. 2021, parallelised by Yang et al. 2024, arXiv 2406.06484) as the
/// flash-linear-attention layer builds it without its short convolution: q, k = l2norm(silu(W_q u)),
/// l2norm(silu(W_k u)) per head ∈ ℝ^{H·Dk} (key width ⌊expand_k·d⌋), v = silu(W_v u) ∈ ℝ^{H·Dv}
/// (⌊expand_v·d⌋), the writing strength β = sigmoid(W_β u) per head (1 without use_beta), the delta rule per head
/// with scale Dk^−½, a per-head RMSNorm and o = W_o (·). With qk_activation identity the silu on q and k is left out.
/// The short convolutions FLA puts on q, k and v are not implemented (the presets put a BaseConv layer before this
/// one, as Zoology's MQAR models do); nor is the output gate (use_gate).
/// Parameter names: q_proj, k_proj, v_proj, b_proj, o_norm, o_proj.
/// </summary>
public sealed class DeltaNet : nn.Module<Tensor, Tensor>, ISequenceMixer
{
    /// <summary>Mixer kwarg choosing the kernel form (auto, chunked, recurrent).</summary>
    public const string FormKwarg = "delta_form";

    /// <summary>ε under the square root of the L2 normalisation of q and k.</summary>
    public const double L2NormEps = 1e-6;

    [ComponentName(Name = "q_proj")] private readonly Linear _qProj;
    [ComponentName(Name = "k_proj")] private readonly Linear _kProj;
    [ComponentName(Name = "v_proj")] private readonly Linear _vProj;
    [ComponentName(Name = "b_proj")] private readonly Linear? _bProj;
    [ComponentName(Name = "o_norm")] private readonly RmsNorm _norm;
    [ComponentName(Name = "o_proj")] private readonly Linear _oProj;

    public DeltaNet(int dModel, int numHeads = 4, double expandK = 1.0, double expandV = 1.0, bool useBeta = true, bool siluOnQueryKey = true,
        double normEps = 1e-5, string form = "auto")
        : base(nameof(DeltaNet))
    {
        int keyDim = (int)(dModel * expandK), valueDim = (int)(dModel * expandV);
        if (numHeads < 1) throw new UserError($"DeltaNet: num_heads must be positive, got {numHeads}");
        if (keyDim < numHeads || keyDim % numHeads != 0 || valueDim < numHeads || valueDim % numHeads != 0)
            throw new UserError($"DeltaNet: key width {keyDim} (d_model·expand_k) and value width {valueDim} (d_model·expand_v) must be positive multiples of num_heads {numHeads}");
        if (!DeltaRuleForms.Registry.IsKnown(form))
            throw new UserError($"DeltaNet: unknown {FormKwarg} '{form}' (known: auto, {string.Join(", ", DeltaRuleForms.Registry.Names)})");
        NumHeads = numHeads;
        HeadKeyDim = keyDim / numHeads;
        HeadValueDim = valueDim / numHeads;
        SiluOnQueryKey = siluOnQueryKey;
        Form = form;

        _qProj = nn.Linear(dModel, keyDim, hasBias: false);
        _kProj = nn.Linear(dModel, keyDim, hasBias: false);
        _vProj = nn.Linear(dModel, valueDim, hasBias: false);
        register_module("q_proj", _qProj);
        register_module("k_proj", _kProj);
        register_module("v_proj", _vProj);
        if (useBeta)
        {
            _bProj = nn.Linear(dModel, numHeads, hasBias: false);
            register_module("b_proj", _bProj);
        }
        _norm = new RmsNorm("o_norm", HeadValueDim, normEps);
        _oProj = nn.Linear(valueDim, dModel, hasBias: false);
        register_module("o_norm", _norm);
        register_module("o_proj", _oProj);
    }

    public static DeltaNet FromKwargs(MixerKwargs kwargs, int dModel)
    {
        kwargs.Int("l_max", 0);
        if (kwargs.Bool("use_short_conv", false))
            throw new UserError("DeltaNet: use_short_conv=true is not supported (the presets put a BaseConv layer first instead)");
        kwargs.Int("conv_size", 4);
        if (kwargs.Bool("use_gate", false)) throw new UserError("DeltaNet: use_gate=true (the output gate) is not supported");
        var activation = kwargs.String("qk_activation", "silu");
        if (activation is not ("silu" or "identity")) throw new UserError($"DeltaNet: qk_activation '{activation}' is not supported (silu or identity)");
        var norm = kwargs.String("qk_norm", "l2");
        if (norm != "l2") throw new UserError($"DeltaNet: qk_norm '{norm}' is not supported (l2)");
        var module = new DeltaNet(dModel,
            numHeads: kwargs.Int("num_heads", 4),
            expandK: kwargs.Double("expand_k", 1.0),
            expandV: kwargs.Double("expand_v", 1.0),
            useBeta: kwargs.Bool("use_beta", true),
            siluOnQueryKey: activation == "silu",
            normEps: kwargs.Double("norm_eps", 1e-5),
            form: kwargs.String(FormKwarg, "auto"));
        kwargs.RejectUnused();
        return module;
    }

    public int NumHeads { get; }
    public int HeadKeyDim { get; }
    public int HeadValueDim { get; }
    public bool SiluOnQueryKey { get; }
    /// <summary>The kernel form ("auto" or a name from <see cref="DeltaRuleForms.Registry"/>).</summary>
    public string Form { get; }

    /// <summary>One Dk×Dv state per head.</summary>
    public long StateSize(int sequenceLength) => (long)NumHeads * HeadKeyDim * HeadValueDim;

    public override Tensor forward(Tensor u)
    {
        using var scope = NewDisposeScope();
        long b = u.shape[0], l = u.shape[1];
        Tensor Heads(Tensor x, int width) => x.view(b, l, NumHeads, width).transpose(1, 2);
        Tensor QueryKey(Linear projection)
        {
            var x = MixedPrecision.Linear(projection, u);
            if (SiluOnQueryKey) x = nn.functional.silu(x);
            x = x.view(b, l, NumHeads, HeadKeyDim);
            return (x * (x.square().sum(-1, keepdim: true) + L2NormEps).rsqrt()).transpose(1, 2);
        }
        var q = QueryKey(_qProj);
        var k = QueryKey(_kProj);
        var v = nn.functional.silu(MixedPrecision.Linear(_vProj, u));
        var beta = _bProj is null ? ones(b, NumHeads, l, v.dtype, v.device) : MixedPrecision.Linear(_bProj, u).sigmoid().transpose(1, 2);
        var form = DeltaRuleForms.Registry.Get(Form, v.device, v.dtype);
        var o = form.Forward(q, k, Heads(v, HeadValueDim), beta, 1.0 / Math.Sqrt(HeadKeyDim));
        o = _norm.forward(o.transpose(1, 2));
        return MixedPrecision.Linear(_oProj, o.reshape(b, l, NumHeads * HeadValueDim)).MoveToOuterDisposeScope();
    }
}
