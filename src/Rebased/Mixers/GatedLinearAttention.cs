using Rebased.Kernels.Gla;
using Rebased.Modules;
using TorchSharp.Modules;
using TorchSharp.Utils;

namespace Rebased.Mixers;

/// <summary>
/// Gated linear attention (GLA; Yang et al. 2023, arXiv 2312.06635) as the flash-linear-attention layer builds it:
/// q, k = W_q u, W_k u ∈ ℝ^{H·Dk} (key width ⌊expand_k·d⌋), v = W_v u ∈ ℝ^{H·Dv} (value width ⌊expand_v·d⌋); a
/// low-rank, data-dependent forget gate per key feature, g = logsigmoid(W_up W_down u + b) / gate_logit_normalizer
/// (rank 16 and normaliser 16 by default: the normaliser keeps the decay near 1 at initialisation); the GLA
/// recurrence per head with scale Dk^−½; a per-head RMSNorm, the output gate swish(W_g u) and o = W_o (·).
/// The feature map on q and k is identity (default), relu or swish. There is no short convolution: the presets put
/// a BaseConv layer before this one, as Zoology's MQAR models do.
/// Parameter names: q_proj, k_proj, v_proj, gk_proj_down, gk_proj_up, g_proj, g_norm, o_proj.
/// </summary>
public sealed class GatedLinearAttention : nn.Module<Tensor, Tensor>, ISequenceMixer
{
    public static readonly string[] FeatureMaps = ["identity", "relu", "swish"];

    /// <summary>Mixer kwarg choosing the kernel form (auto, chunked, recurrent).</summary>
    public const string FormKwarg = "gla_form";

    [ComponentName(Name = "q_proj")] private readonly Linear _qProj;
    [ComponentName(Name = "k_proj")] private readonly Linear _kProj;
    [ComponentName(Name = "v_proj")] private readonly Linear _vProj;
    [ComponentName(Name = "gk_proj_down")] private readonly Linear _gateDown;
    [ComponentName(Name = "gk_proj_up")] private readonly Linear _gateUp;
    [ComponentName(Name = "g_proj")] private readonly Linear? _outputGate;
    [ComponentName(Name = "g_norm")] private readonly RmsNorm _norm;
    [ComponentName(Name = "o_proj")] private readonly Linear _oProj;

    public GatedLinearAttention(int dModel, int numHeads = 4, double expandK = 0.5, double expandV = 1.0, int gateLowRankDim = 16,
        double gateLogitNormalizer = 16, bool useOutputGate = true, string featureMap = "identity", double normEps = 1e-5, string form = "auto")
        : base(nameof(GatedLinearAttention))
    {
        var (keyDim, valueDim) = HeadWidths.KeyAndValue("GatedLinearAttention", dModel, expandK, expandV, numHeads);
        if (gateLowRankDim < 1) throw new UserError($"GatedLinearAttention: gate_low_rank_dim must be positive, got {gateLowRankDim}");
        if (!(gateLogitNormalizer > 0)) throw new UserError($"GatedLinearAttention: gate_logit_normalizer must be positive, got {gateLogitNormalizer}");
        if (!FeatureMaps.Contains(featureMap))
            throw new UserError($"GatedLinearAttention: unknown feature_map '{featureMap}' (known: {string.Join(", ", FeatureMaps)})");
        GlaForms.Registry.RequireKnown(form, "GatedLinearAttention", FormKwarg);
        NumHeads = numHeads;
        HeadKeyDim = keyDim / numHeads;
        HeadValueDim = valueDim / numHeads;
        GateLogitNormalizer = gateLogitNormalizer;
        FeatureMap = featureMap;
        Form = form;

        _qProj = nn.Linear(dModel, keyDim, hasBias: false);
        _kProj = nn.Linear(dModel, keyDim, hasBias: false);
        _vProj = nn.Linear(dModel, valueDim, hasBias: false);
        _gateDown = nn.Linear(dModel, gateLowRankDim, hasBias: false);
        _gateUp = nn.Linear(gateLowRankDim, keyDim, hasBias: true);
        _norm = new RmsNorm("g_norm", HeadValueDim, normEps);
        _oProj = nn.Linear(valueDim, dModel, hasBias: false);
        register_module("q_proj", _qProj);
        register_module("k_proj", _kProj);
        register_module("v_proj", _vProj);
        register_module("gk_proj_down", _gateDown);
        register_module("gk_proj_up", _gateUp);
        if (useOutputGate)
        {
            _outputGate = nn.Linear(dModel, valueDim, hasBias: false);
            register_module("g_proj", _outputGate);
        }
        register_module("g_norm", _norm);
        register_module("o_proj", _oProj);
    }

    public static GatedLinearAttention FromKwargs(MixerKwargs kwargs, int dModel)
    {
        kwargs.Int("l_max", 0);
        if (kwargs.Bool("use_short_conv", false)) throw new UserError("GatedLinearAttention: use_short_conv=true is not supported (the presets put a BaseConv layer first instead)");
        var module = new GatedLinearAttention(dModel,
            numHeads: kwargs.Int("num_heads", 4),
            expandK: kwargs.Double("expand_k", 0.5),
            expandV: kwargs.Double("expand_v", 1.0),
            gateLowRankDim: kwargs.Int("gate_low_rank_dim", 16),
            gateLogitNormalizer: kwargs.Double("gate_logit_normalizer", 16),
            useOutputGate: kwargs.Bool("use_output_gate", true),
            featureMap: kwargs.String("feature_map", "identity"),
            normEps: kwargs.Double("norm_eps", 1e-5),
            form: kwargs.String(FormKwarg, "auto"));
        kwargs.RejectUnused();
        return module;
    }

    public int NumHeads { get; }
    public int HeadKeyDim { get; }
    public int HeadValueDim { get; }
    public double GateLogitNormalizer { get; }
    public string FeatureMap { get; }
    /// <summary>The kernel form ("auto" or a name from <see cref="GlaForms.Registry"/>).</summary>
    public string Form { get; }

    /// <summary>One Dk×Dv state per head.</summary>
    public long StateSize(int sequenceLength) => (long)NumHeads * HeadKeyDim * HeadValueDim;

    public override Tensor forward(Tensor u)
    {
        using var scope = NewDisposeScope();
        long b = u.shape[0], l = u.shape[1];
        Tensor Heads(Tensor x, int width) => x.view(b, l, NumHeads, width).transpose(1, 2);
        var q = ApplyFeatureMap(MixedPrecision.Linear(_qProj, u));
        var k = ApplyFeatureMap(MixedPrecision.Linear(_kProj, u));
        var v = MixedPrecision.Linear(_vProj, u);
        var logDecay = nn.functional.logsigmoid(MixedPrecision.Linear(_gateUp, MixedPrecision.Linear(_gateDown, u))) / GateLogitNormalizer;
        var form = GlaForms.Registry.Get(Form, v.device, v.dtype);
        var o = form.Forward(Heads(q, HeadKeyDim), Heads(k, HeadKeyDim), Heads(v, HeadValueDim), Heads(logDecay, HeadKeyDim), 1.0 / Math.Sqrt(HeadKeyDim));
        o = _norm.forward(o.transpose(1, 2));
        if (_outputGate is not null) o = o * nn.functional.silu(MixedPrecision.Linear(_outputGate, u)).view(b, l, NumHeads, HeadValueDim);
        return MixedPrecision.Linear(_oProj, o.reshape(b, l, NumHeads * HeadValueDim)).MoveToOuterDisposeScope();
    }

    private Tensor ApplyFeatureMap(Tensor x) => FeatureMap switch
    {
        "relu" => nn.functional.relu(x),
        "swish" => nn.functional.silu(x),
        _ => x,
    };
}
