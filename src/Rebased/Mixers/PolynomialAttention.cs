using Rebased.Modules;
using Rebased.Kernels.LinearAttention;
using TorchSharp.Modules;
using TorchSharp.Utils;

namespace Rebased.Mixers;

/// <summary>
/// What Based and ReBased share: q, k = W_q u, W_k u ∈ ℝ^{H·F} and v = W_v u ∈ ℝ^{H·P} (no biases,
/// P = ⌊d / H⌋), an optional transform of q and k over all H·F features jointly, causal normalised
/// polynomial linear attention per head with scale 1/√F and eps 1e-12, and o = W_o concat_heads(y).
/// Parameter names: proj_q, proj_k, proj_v, proj_o (then ln_q, ln_k where the mixer has them).
/// </summary>
public abstract class PolynomialAttention : nn.Module<Tensor, Tensor>, ISequenceMixer
{
    public const double DefaultEps = 1e-12;

    [ComponentName(Name = "proj_q")] private readonly Linear _projQ;
    [ComponentName(Name = "proj_k")] private readonly Linear _projK;
    [ComponentName(Name = "proj_v")] private readonly Linear _projV;
    [ComponentName(Name = "proj_o")] private readonly Linear _projO;

    protected PolynomialAttention(string name, int dModel, int featureDim, int numHeads, PolynomialKernel kernel, string attentionForm, double eps)
        : base(name)
    {
        if (featureDim < 1 || numHeads < 1) throw new UserError($"{name}: feature_dim and num_heads must be positive");
        if (dModel / numHeads < 1) throw new UserError($"{name}: d_model {dModel} is smaller than num_heads {numHeads} (head width ⌊d/H⌋ would be 0)");
        LinearAttentionForms.Registry.RequireKnown(attentionForm, name, "attention_form");
        FeatureDim = featureDim;
        NumHeads = numHeads;
        HeadDim = dModel / numHeads;
        Kernel = kernel;
        AttentionForm = attentionForm;
        Eps = eps;
        _projQ = nn.Linear(dModel, featureDim * numHeads, hasBias: false);
        _projK = nn.Linear(dModel, featureDim * numHeads, hasBias: false);
        _projV = nn.Linear(dModel, numHeads * HeadDim, hasBias: false);
        _projO = nn.Linear(numHeads * HeadDim, dModel, hasBias: false);
        register_module("proj_q", _projQ);
        register_module("proj_k", _projK);
        register_module("proj_v", _projV);
        register_module("proj_o", _projO);
    }

    public int FeatureDim { get; }
    public int NumHeads { get; }
    /// <summary>Value width per head, ⌊d_model / num_heads⌋ (so H·P = 12·⌊d/12⌋ can be less than d).</summary>
    public int HeadDim { get; }
    public PolynomialKernel Kernel { get; }
    /// <summary>The linear-attention form ("auto" or a name from <see cref="LinearAttentionForms"/>).</summary>
    public string AttentionForm { get; }
    public double Eps { get; }
    public double Scale => 1.0 / Math.Sqrt(FeatureDim);

    /// <summary>Per head the state Σ φ(k) vᵀ (F×P) and the normaliser Σ φ(k) (F), F the feature count of φ.</summary>
    public long StateSize(int sequenceLength)
    {
        long features = FeatureMap.Features(Kernel, FeatureDim);
        return NumHeads * (features * HeadDim + features);
    }

    /// <summary>The transform of q and k ([B, L, H·F]) before the head split; identity unless overridden.</summary>
    protected virtual (Tensor Q, Tensor K) TransformQueryKey(Tensor q, Tensor k) => (q, k);

    public override Tensor forward(Tensor u)
    {
        using var scope = NewDisposeScope();
        long b = u.shape[0], l = u.shape[1];
        var (q, k) = TransformQueryKey(MixedPrecision.Linear(_projQ, u), MixedPrecision.Linear(_projK, u));
        var v = MixedPrecision.Linear(_projV, u);
        q = q.view(b, l, NumHeads, FeatureDim).transpose(1, 2);
        k = k.view(b, l, NumHeads, FeatureDim).transpose(1, 2);
        v = v.view(b, l, NumHeads, HeadDim).transpose(1, 2);
        // Under bf16 mixed precision the CUDA kernels take bf16 operands (fp32 accumulation); the CPU forms stay fp32.
        var dtype = MixedPrecision.ProductType is { } product && v.device.type == DeviceType.CUDA ? product : v.dtype;
        var form = LinearAttentionForms.Get(AttentionForm, v.device, dtype);
        var y = form.Forward(q.to(dtype), k.to(dtype), v.to(dtype), Kernel, Scale, Eps).to(v.dtype);
        var o = MixedPrecision.Linear(_projO, y.transpose(1, 2).reshape(b, l, NumHeads * HeadDim));
        return o.MoveToOuterDisposeScope();
    }

    /// <summary>Reads the arguments both mixers take; num_key_value_heads must equal num_heads (as every reference config has it).</summary>
    protected static (int FeatureDim, int NumHeads, string Form, double Eps) ReadCommon(MixerKwargs kwargs)
    {
        int featureDim = kwargs.Int("feature_dim", 16);
        int numHeads = kwargs.Int("num_heads", 12);
        int kvHeads = kwargs.Int("num_key_value_heads", 12);
        if (kvHeads != numHeads)
            throw new UserError($"{kwargs.Mixer}: num_key_value_heads ({kvHeads}) must equal num_heads ({numHeads})");
        var featureName = kwargs.String("feature_name", "taylor_exp");
        if (featureName != "taylor_exp")
            throw new UserError($"{kwargs.Mixer}: feature_name '{featureName}' is not supported (the kernel is fixed by the mixer; use taylor_exp)");
        if (!kwargs.Bool("causal", true)) throw new UserError($"{kwargs.Mixer}: only causal attention is supported");
        var mode = kwargs.String("mode", "parallel");
        if (mode != "parallel")
            throw new UserError($"{kwargs.Mixer}: mode '{mode}' is not supported (the reference implements only 'parallel'; choose a kernel with attention_form)");
        kwargs.Int("l_max", 0);
        return (featureDim, numHeads, kwargs.String("attention_form", "auto"), kwargs.Double("eps", DefaultEps));
    }
}
