using Rebased.Modules;
using Rebased.Kernels.LinearAttention;
using TorchSharp.Modules;
using TorchSharp.Utils;

namespace Rebased.Mixers;

/// <summary>How ReBased transforms q and k (each over all H·F features jointly) before the kernel s².</summary>
public enum QueryKeyTransform
{
    /// <summary>x²: no transform (all flags off).</summary>
    None,
    /// <summary>(γx)²: per-feature scale (use_gamma).</summary>
    Gamma,
    /// <summary>(γx+β)²: per-feature scale and shift (use_gamma, use_beta).</summary>
    GammaBeta,
    /// <summary>norm(x)²: parameter-free (x−μ)/√(σ²+ε), ε = 1e-5 applied once (normalize without both use_gamma and use_beta).</summary>
    Normalize,
    /// <summary>ReBased (γ·norm(x)+β)²: nn.LayerNorm (all three flags).</summary>
    LayerNorm,
}

/// <summary>
/// ReBased linear attention: q and k pass a transform over all H·F = 192 features jointly (not per head),
/// then kernel s² with s = q·k/√F, causally normalised. The flags select the ablation variants exactly as the
/// reference's constructor does (<see cref="TransformFor"/>). Parameter names: ln_q.{weight,bias} for the
/// LayerNorm, ln_q.{gamma,beta} for the scalers (the reference's scaler holds β even when it does not use it),
/// none for x² and norm(x)².
/// </summary>
public sealed class ReBased : PolynomialAttention
{
    public const double NormEps = 1e-5;

    [ComponentName(Name = "ln_q")] private readonly nn.Module<Tensor, Tensor>? _lnQ;
    [ComponentName(Name = "ln_k")] private readonly nn.Module<Tensor, Tensor>? _lnK;

    public ReBased(int dModel, int featureDim = 16, int numHeads = 12, QueryKeyTransform transform = QueryKeyTransform.LayerNorm,
        string attentionForm = "auto", double eps = DefaultEps)
        : base(nameof(ReBased), dModel, featureDim, numHeads, PolynomialKernel.Rebased, attentionForm, eps)
    {
        Transform = transform;
        int width = featureDim * numHeads;
        (_lnQ, _lnK) = transform switch
        {
            QueryKeyTransform.LayerNorm => ((nn.Module<Tensor, Tensor>)new FusedLayerNorm(width, NormEps), new FusedLayerNorm(width, NormEps)),
            QueryKeyTransform.Normalize => (new FusedLayerNorm(width, NormEps, elementwiseAffine: false), new FusedLayerNorm(width, NormEps, elementwiseAffine: false)),
            QueryKeyTransform.GammaBeta => (new Scaler(width, useBeta: true), new Scaler(width, useBeta: true)),
            QueryKeyTransform.Gamma => (new Scaler(width, useBeta: false), new Scaler(width, useBeta: false)),
            _ => ((nn.Module<Tensor, Tensor>?)null, (nn.Module<Tensor, Tensor>?)null),
        };
        if (_lnQ is null || _lnK is null) return;
        register_module("ln_q", _lnQ);
        register_module("ln_k", _lnK);
    }

    public QueryKeyTransform Transform { get; }

    /// <summary>The reference's choice: all three flags → LayerNorm; else normalize → norm(x); else γ and β → scaler with
    /// shift; else γ → scaler; else x². use_beta alone has no variant in the reference (it crashes there) and is an error here.</summary>
    public static QueryKeyTransform TransformFor(bool useGamma, bool useBeta, bool normalize) => (useGamma, useBeta, normalize) switch
    {
        (true, true, true) => QueryKeyTransform.LayerNorm,
        (_, _, true) => QueryKeyTransform.Normalize,
        (true, true, false) => QueryKeyTransform.GammaBeta,
        (true, false, false) => QueryKeyTransform.Gamma,
        (false, false, false) => QueryKeyTransform.None,
        _ => throw new UserError("ReBased: use_beta without use_gamma or normalize is not a variant (x², (γx)², (γx+β)², norm(x)² or all three flags for ReBased)"),
    };

    public static ReBased FromKwargs(MixerKwargs kwargs, int dModel)
    {
        var (featureDim, numHeads, form, eps) = ReadCommon(kwargs);
        var transform = TransformFor(kwargs.Bool("use_gamma", true), kwargs.Bool("use_beta", true), kwargs.Bool("normalize", true));
        var module = new ReBased(dModel, featureDim, numHeads, transform, form, eps);
        kwargs.RejectUnused();
        return module;
    }

    protected override (Tensor Q, Tensor K) TransformQueryKey(Tensor q, Tensor k) =>
        _lnQ is null || _lnK is null ? (q, k) : (_lnQ.forward(q), _lnK.forward(k));

    /// <summary>γ·x (+ β): per-feature affine map without normalisation (parameters gamma, beta).</summary>
    public sealed class Scaler : nn.Module<Tensor, Tensor>
    {
        [ComponentName(Name = "gamma")] private readonly Parameter gamma;
        [ComponentName(Name = "beta")] private readonly Parameter beta;
        private readonly bool _useBeta;

        public Scaler(int width, bool useBeta) : base(nameof(Scaler))
        {
            _useBeta = useBeta;
            gamma = new Parameter(ones(width));
            beta = new Parameter(zeros(width));
            register_parameter("gamma", gamma);
            register_parameter("beta", beta);
        }

        public override Tensor forward(Tensor x) => _useBeta ? x * gamma + beta : x * gamma;
    }
}
