using Rebased.Kernels.Scan;
using Rebased.Modules;
using TorchSharp.Modules;
using TorchSharp.Utils;

namespace Rebased.Mixers;

/// <summary>
/// RWKV-4 time mixing (the reference's RWKVTimeMixer; no channel mixing): token shift, per-channel mixing of
/// each position with the previous one for k, v and r, the WKV operator, and y = W_out(σ(r) ⊙ wkv).
/// x: [B, T, C] → [B, T, C]. Parameter names follow the reference state dict (time_decay, time_first,
/// time_mix_k/v/r [1, 1, C], key/value/receptance/output.weight).
/// Initialisation: time_decay, time_first and time_mix_* by the reference's per-layer formulas; the four
/// Linear layers keep PyTorch's default U(±1/√C). The reference's global init never reaches them (the mixer is
/// a TorchScript module there), so the model-wide init skips this mixer (<see cref="IInitialisesItself"/>).
/// With <c>roundWkvToBf16</c> the WKV output and the gradients of its inputs are rounded to bfloat16, as the
/// reference's RWKV_FLOAT_MODE=bf16 does (see <see cref="Bf16RoundedWkv"/>); off by default (exact fp32).
/// </summary>
public sealed class Rwkv4TimeMixer : nn.Module<Tensor, Tensor>, IInitialisesItself, ISequenceMixer
{
    [ComponentName(Name = "time_decay")] private readonly Parameter _timeDecay;
    [ComponentName(Name = "time_first")] private readonly Parameter _timeFirst;
    [ComponentName(Name = "time_mix_k")] private readonly Parameter _timeMixK;
    [ComponentName(Name = "time_mix_v")] private readonly Parameter _timeMixV;
    [ComponentName(Name = "time_mix_r")] private readonly Parameter _timeMixR;
    [ComponentName(Name = "key")] private readonly Linear _key;
    [ComponentName(Name = "value")] private readonly Linear _value;
    [ComponentName(Name = "receptance")] private readonly Linear _receptance;
    [ComponentName(Name = "output")] private readonly Linear _output;
    private readonly IWkv _wkv;

    public Rwkv4TimeMixer(string name, int dModel, int layerIdx, int nLayers, bool roundWkvToBf16 = false, string wkvForm = "auto")
        : base(name)
    {
        if (nLayers < 2) throw new UserError($"rwkv: n_layers must be at least 2 for the reference's init ratios (got {nLayers})");
        var exact = WkvForms.Get(wkvForm);
        _wkv = roundWkvToBf16 ? new Bf16RoundedWkv(exact) : exact;

        DModel = dModel;
        double ratio0To1 = (double)layerIdx / (nLayers - 1);
        double ratio1ToAlmost0 = 1.0 - (double)layerIdx / nLayers;
        var decay = new float[dModel];
        var first = new float[dModel];
        var mixK = new float[dModel];
        var mixV = new float[dModel];
        var mixR = new float[dModel];
        for (int h = 0; h < dModel; h++)
        {
            // PyTorch evaluates these in float32 (torch.ones(...) filled per element, torch.pow on float32).
            double position = dModel > 1 ? (double)h / (dModel - 1) : 0.0;
            decay[h] = (float)(-5 + 8 * Math.Pow(position, 0.7 + 1.3 * ratio0To1));
            first[h] = (float)Math.Log(0.3) + (float)(((h + 1) % 3 - 1) * 0.5);
            float fraction = (float)h / dModel;
            mixK[h] = MathF.Pow(fraction, (float)ratio1ToAlmost0);
            mixV[h] = MathF.Pow(fraction, (float)ratio1ToAlmost0) + (float)(0.3 * ratio0To1);
            mixR[h] = MathF.Pow(fraction, (float)(0.5 * ratio1ToAlmost0));
        }
        _timeDecay = new Parameter(tensor(decay));
        _timeFirst = new Parameter(tensor(first));
        _timeMixK = new Parameter(tensor(mixK).reshape(1, 1, dModel));
        _timeMixV = new Parameter(tensor(mixV).reshape(1, 1, dModel));
        _timeMixR = new Parameter(tensor(mixR).reshape(1, 1, dModel));
        _key = nn.Linear(dModel, dModel, hasBias: false);
        _value = nn.Linear(dModel, dModel, hasBias: false);
        _receptance = nn.Linear(dModel, dModel, hasBias: false);
        _output = nn.Linear(dModel, dModel, hasBias: false);

        register_parameter("time_decay", _timeDecay);
        register_parameter("time_first", _timeFirst);
        register_parameter("time_mix_k", _timeMixK);
        register_parameter("time_mix_v", _timeMixV);
        register_parameter("time_mix_r", _timeMixR);
        register_module("key", _key);
        register_module("value", _value);
        register_module("receptance", _receptance);
        register_module("output", _output);
    }

    /// <summary>Mixer kwarg choosing the WKV form (auto, parallel, recurrent).</summary>
    public const string WkvFormKwarg = "wkv_form";

    /// <summary>Mixer kwarg switching to the reference's bf16 rounding of the WKV output and gradients (off by default).</summary>
    public const string Bf16RoundingKwarg = "wkv_bf16_rounding";

    /// <summary>
    /// The reference's RWKVTimeMixer(l_max, d_model, n_layer, layer_idx) from its config kwargs, plus
    /// <see cref="WkvFormKwarg"/> and <see cref="Bf16RoundingKwarg"/> (the reference's bf16 rounding, off by default).
    /// </summary>
    public static Rwkv4TimeMixer FromKwargs(MixerKwargs kwargs, int dModel, int layerIdx)
    {
        int lMax = kwargs.Int("l_max", 0);
        if (lMax < 0) throw new UserError($"{kwargs.Mixer}: l_max must not be negative, got {lMax}");
        var mixer = new Rwkv4TimeMixer("sequence_mixer", dModel, layerIdx, kwargs.Int("n_layer", 2),
            kwargs.Bool(Bf16RoundingKwarg, false), kwargs.String(WkvFormKwarg, "auto"));
        kwargs.RejectUnused();
        return mixer;
    }

    public int DModel { get; }

    /// <summary>
    /// Per channel the WKV numerator and denominator sums and the previous token's input (token shift). (A stabilised
    /// evaluation also keeps a running maximum exponent per channel; it is not part of the recurrence.)
    /// </summary>
    public long StateSize(int sequenceLength) => 3L * DModel;

    /// <summary>The WKV form in use (its name ends in "-bf16" when the reference's rounding is emulated).</summary>
    public IWkv Wkv => _wkv;

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var shifted = nn.functional.pad(x, new long[] { 0, 0, 1, -1 });
        var xk = x * _timeMixK + shifted * (1 - _timeMixK);
        var xv = x * _timeMixV + shifted * (1 - _timeMixV);
        var xr = x * _timeMixR + shifted * (1 - _timeMixR);
        var k = MixedPrecision.Linear(_key, xk);
        var v = MixedPrecision.Linear(_value, xv);
        var gate = MixedPrecision.Linear(_receptance, xr).sigmoid();
        var y = MixedPrecision.Linear(_output, gate * _wkv.Forward(_timeDecay, _timeFirst, k, v));
        return y.MoveToOuterDisposeScope();
    }
}
