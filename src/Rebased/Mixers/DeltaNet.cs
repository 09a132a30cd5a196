using Rebased.Kernels.DeltaRule;
using Rebased.Modules;
using TorchSharp.Modules;
using TorchSharp.Utils;

namespace Rebased.Mixers;

/// <summary>
/// DeltaNet (the delta rule; Schlag et al. 2021, parallelised by Yang et al. 2024, arXiv 2406.06484) as the
/// flash-linear-attention layer builds it: q, k = l2norm(silu(C_q W_q u)), l2norm(silu(C_k W_k u)) per head
/// ∈ ℝ^{H·Dk} (key width ⌊expand_k·d⌋), v = silu(C_v W_v u) ∈ ℝ^{H·Dv} (⌊expand_v·d⌋), where C is a depthwise
/// causal convolution of conv_size taps without bias (use_short_conv; identity without it); the writing strength
/// β = sigmoid(W_β u) per head (1 without use_beta); the delta rule per head with scale Dk^−½; a per-head RMSNorm
/// and o = W_o (·). With qk_activation identity the silu on q and k is left out. The output gate (use_gate) is not
/// implemented. Parameter names: q_proj, k_proj, v_proj, q_conv1d, k_conv1d, v_conv1d, b_proj, o_norm, o_proj.
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
    [ComponentName(Name = "q_conv1d")] private readonly BaseConv.ShortConvolution? _qConv;
    [ComponentName(Name = "k_conv1d")] private readonly BaseConv.ShortConvolution? _kConv;
    [ComponentName(Name = "v_conv1d")] private readonly BaseConv.ShortConvolution? _vConv;
    [ComponentName(Name = "b_proj")] private readonly Linear? _bProj;
    [ComponentName(Name = "o_norm")] private readonly RmsNorm _norm;
    [ComponentName(Name = "o_proj")] private readonly Linear _oProj;

    public DeltaNet(int dModel, int numHeads = 4, double expandK = 1.0, double expandV = 1.0, bool useBeta = true, bool siluOnQueryKey = true,
        int convSize = 4, bool useShortConv = true, double normEps = 1e-5, string form = "auto")
        : base(nameof(DeltaNet))
    {
        var (keyDim, valueDim) = HeadWidths.KeyAndValue("DeltaNet", dModel, expandK, expandV, numHeads);
        if (useShortConv && convSize < 1) throw new UserError($"DeltaNet: conv_size must be positive, got {convSize}");
        DeltaRuleForms.Registry.RequireKnown(form, "DeltaNet", FormKwarg);
        NumHeads = numHeads;
        HeadKeyDim = keyDim / numHeads;
        HeadValueDim = valueDim / numHeads;
        SiluOnQueryKey = siluOnQueryKey;
        ConvSize = useShortConv ? convSize : 0;
        Form = form;

        _qProj = nn.Linear(dModel, keyDim, hasBias: false);
        _kProj = nn.Linear(dModel, keyDim, hasBias: false);
        _vProj = nn.Linear(dModel, valueDim, hasBias: false);
        register_module("q_proj", _qProj);
        register_module("k_proj", _kProj);
        register_module("v_proj", _vProj);
        if (useShortConv)
        {
            _qConv = new BaseConv.ShortConvolution(keyDim, convSize, bias: false);
            _kConv = new BaseConv.ShortConvolution(keyDim, convSize, bias: false);
            _vConv = new BaseConv.ShortConvolution(valueDim, convSize, bias: false);
            register_module("q_conv1d", _qConv);
            register_module("k_conv1d", _kConv);
            register_module("v_conv1d", _vConv);
        }
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
            convSize: kwargs.Int("conv_size", 4),
            useShortConv: kwargs.Bool("use_short_conv", true),
            normEps: kwargs.Double("norm_eps", 1e-5),
            form: kwargs.String(FormKwarg, "auto"));
        kwargs.RejectUnused();
        return module;
    }

    public int NumHeads { get; }
    public int HeadKeyDim { get; }
    public int HeadValueDim { get; }
    public bool SiluOnQueryKey { get; }
    /// <summary>Taps of the short convolutions on q, k and v; 0 without them.</summary>
    public int ConvSize { get; }
    /// <summary>The kernel form ("auto" or a name from <see cref="DeltaRuleForms.Registry"/>).</summary>
    public string Form { get; }

    /// <summary>One Dk×Dv state per head, and the conv_size − 1 previous inputs of each short convolution (q, k and v widths).</summary>
    public long StateSize(int sequenceLength) =>
        (long)NumHeads * HeadKeyDim * HeadValueDim + (ConvSize == 0 ? 0 : (long)NumHeads * (2 * HeadKeyDim + HeadValueDim) * (ConvSize - 1));

    public override Tensor forward(Tensor u)
    {
        using var scope = NewDisposeScope();
        long b = u.shape[0], l = u.shape[1];
        Tensor Heads(Tensor x, int width) => x.view(b, l, NumHeads, width).transpose(1, 2);
        Tensor Convolved(Linear projection, BaseConv.ShortConvolution? conv)
        {
            var x = MixedPrecision.Linear(projection, u);
            return conv is null ? x : conv.forward(x);
        }
        Tensor QueryKey(Linear projection, BaseConv.ShortConvolution? conv)
        {
            var x = Convolved(projection, conv);
            if (SiluOnQueryKey) x = nn.functional.silu(x);
            x = x.view(b, l, NumHeads, HeadKeyDim);
            return (x * (x.square().sum(-1, keepdim: true) + L2NormEps).rsqrt()).transpose(1, 2);
        }
        var q = QueryKey(_qProj, _qConv);
        var k = QueryKey(_kProj, _kConv);
        var v = nn.functional.silu(Convolved(_vProj, _vConv));
        var beta = _bProj is null ? ones(b, NumHeads, l, v.dtype, v.device) : MixedPrecision.Linear(_bProj, u).sigmoid().transpose(1, 2);
        var form = DeltaRuleForms.Registry.Get(Form, v.device, v.dtype);
        var o = form.Forward(q, k, Heads(v, HeadValueDim), beta, 1.0 / Math.Sqrt(HeadKeyDim));
        o = _norm.forward(o.transpose(1, 2));
        return MixedPrecision.Linear(_oProj, o.reshape(b, l, NumHeads * HeadValueDim)).MoveToOuterDisposeScope();
    }
}
