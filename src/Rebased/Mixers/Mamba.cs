using Rebased.Modules;
using Rebased.Configs;
using Rebased.Kernels.Scan;
using TorchSharp.Modules;
using TorchSharp.Utils;

namespace Rebased.Mixers;

/// <summary>
/// The Mamba (S6) mixer of the reference (src/mixers/mamba.py, its non-fused path): x, z = in_proj(u);
/// x ← SiLU(causal depthwise conv k=4 with bias); (Δ_low, B, C) = x_proj(x); Δ = softplus(W_dt Δ_low + b_dt);
/// A = −exp(A_log); y = selective_scan(x, Δ, A, B, C, D) ⊙ SiLU(z); out = out_proj(y).
/// d_inner = 2·d, d_state 16 (by default), dt_rank ⌈d/16⌉. u: [B, L, d] → [B, L, d].
/// Initialisation as the reference's constructor: PyTorch defaults for in_proj, x_proj, out_proj and conv1d,
/// dt_proj.weight U(±dt_rank^−½), dt_proj.bias = softplus⁻¹(Δ₀) with Δ₀ ~ logU[1e-3, 0.1] (floor 1e-4),
/// A_log = log(1..d_state) per channel, D = 1. The model-wide init then re-draws every Linear of the model
/// (weights N(0, 0.02), biases 0, out_proj N(0, 0.01)), which in the reference also zeroes dt_proj.bias:
/// a Mamba inside the language model therefore starts with Δ ≈ softplus(0). That part is done by the model's
/// <c>Models.ReferenceInitialisation</c>, which reaches this mixer (unlike RWKV's, see <see cref="IInitialisesItself"/>).
/// </summary>
public sealed class Mamba : nn.Module<Tensor, Tensor>, ISequenceMixer
{
    public const int DefaultStateSize = 16;
    public const int ConvKernel = 4;
    public const int Expand = 2;

    [ComponentName(Name = "A_log")] private readonly Parameter _aLog;
    [ComponentName(Name = "D")] private readonly Parameter _d;
    [ComponentName(Name = "in_proj")] private readonly Linear _inProj;
    [ComponentName(Name = "conv1d")] private readonly Conv1d _conv1d;
    [ComponentName(Name = "x_proj")] private readonly Linear _xProj;
    [ComponentName(Name = "dt_proj")] private readonly Linear _dtProj;
    [ComponentName(Name = "out_proj")] private readonly Linear _outProj;
    private readonly ISelectiveScan _scan;

    public Mamba(string name, int dModel, int dState = DefaultStateSize, string scanForm = "auto") : base(name)
    {
        if (dModel < 1) throw new UserError($"mamba: d_model must be positive, got {dModel}");
        if (dState < 1) throw new UserError($"mamba: d_state must be positive, got {dState}");
        DModel = dModel;
        StateSize = dState;
        DInner = Expand * dModel;
        DtRank = (dModel + 15) / 16;
        _scan = SelectiveScanForms.Get(scanForm);

        _inProj = nn.Linear(dModel, 2 * DInner, hasBias: false);
        _conv1d = nn.Conv1d(DInner, DInner, ConvKernel, padding: ConvKernel - 1, groups: DInner, bias: true);
        _xProj = nn.Linear(DInner, DtRank + 2 * StateSize, hasBias: false);
        _dtProj = nn.Linear(DtRank, DInner, hasBias: true);
        // Random draws in the reference's order (so a seeded construction repeats its values): the layers above,
        // the dt_proj re-draws, then out_proj.
        using (no_grad())
        {
            double dtInitStd = Math.Pow(DtRank, -0.5);
            nn.init.uniform_(_dtProj.weight!, -dtInitStd, dtInitStd);
            const double dtMin = 1e-3, dtMax = 0.1, dtFloor = 1e-4;
            var dt = (rand(DInner) * (Math.Log(dtMax) - Math.Log(dtMin)) + Math.Log(dtMin)).exp().clamp_min(dtFloor);
            _dtProj.bias!.copy_(dt + (-(-dt).expm1()).log());
        }
        _aLog = new Parameter(arange(1, dState + 1, dtype: ScalarType.Float32).log().repeat(DInner, 1));
        _d = new Parameter(ones(DInner));
        _outProj = nn.Linear(DInner, dModel, hasBias: false);

        register_parameter("A_log", _aLog);
        register_parameter("D", _d);
        register_module("in_proj", _inProj);
        register_module("conv1d", _conv1d);
        register_module("x_proj", _xProj);
        register_module("dt_proj", _dtProj);
        register_module("out_proj", _outProj);
    }

    /// <summary>Mixer kwarg choosing the selective-scan form (auto, parallel, recurrent).</summary>
    public const string ScanFormKwarg = "scan_form";

    /// <summary>The reference's Mamba(d_model, d_state) from its config kwargs, plus <see cref="ScanFormKwarg"/>.</summary>
    public static Mamba FromKwargs(MixerKwargs kwargs, int dModel)
    {
        var mamba = new Mamba("mixer", dModel, kwargs.Int("d_state", DefaultStateSize), kwargs.String(ScanFormKwarg, "auto"));
        kwargs.RejectUnused();
        return mamba;
    }

    public int DModel { get; }
    public int StateSize { get; }
    public int DInner { get; }
    public int DtRank { get; }

    public ISelectiveScan Scan => _scan;

    /// <summary>
    /// The SSM state (d_inner × d_state) and the ConvKernel − 1 previous inputs of the causal convolution (d_inner
    /// each). Explicit, because <see cref="StateSize"/> is d_state here, as the reference names it.
    /// </summary>
    long ISequenceMixer.StateSize(int sequenceLength) => (long)DInner * StateSize + (long)DInner * (ConvKernel - 1);

    public override Tensor forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        long length = hidden.shape[1];
        var xz = MixedPrecision.Linear(_inProj, hidden).transpose(1, 2);
        var x = xz.narrow(1, 0, DInner);
        var z = xz.narrow(1, DInner, DInner);
        x = nn.functional.silu(_conv1d.forward(x).narrow(2, 0, length));
        var xDbl = MixedPrecision.Linear(_xProj, x.transpose(1, 2));
        var dtLow = xDbl.narrow(-1, 0, DtRank);
        var b = xDbl.narrow(-1, DtRank, StateSize).transpose(1, 2);
        var c = xDbl.narrow(-1, DtRank + StateSize, StateSize).transpose(1, 2);
        var dt = MixedPrecision.Matmul(dtLow, _dtProj.weight!.t()).transpose(1, 2);
        var a = -_aLog.exp();
        var y = _scan.Forward(x, dt, a, b, c, _d, z, _dtProj.bias!, deltaSoftplus: true);
        return MixedPrecision.Linear(_outProj, y.transpose(1, 2)).MoveToOuterDisposeScope();
    }
}
