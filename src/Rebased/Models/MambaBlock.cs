using Rebased.Configs;
using Rebased.Mixers;
using Rebased.Modules;
using TorchSharp.Modules;
using TorchSharp.Utils;

namespace Rebased.Models;

/// <summary>
/// The reference's MambaBlock (residual-stream form, fused add + RMSNorm): r ← h + r (r = h for the first block),
/// h ← Mamba(RMSNorm(r)); returns (h, r). No MLP, no dropout (not even the embedding dropout of a
/// TransformerBlock). Parameters: mixer.*, norm.weight.
/// </summary>
public sealed class MambaBlock : ResidualBlock
{
    public const double NormEps = 1e-5;

    [ComponentName(Name = "mixer")] private readonly Mamba _mixer;
    [ComponentName(Name = "norm")] private readonly RmsNorm _norm;

    public MambaBlock(string name, int dModel, int dState = Mamba.DefaultStateSize, string scanForm = "auto") : base(name)
    {
        _mixer = new Mamba("mixer", dModel, dState, scanForm);
        _norm = new RmsNorm("norm", dModel, NormEps);
        register_module("mixer", _mixer);
        register_module("norm", _norm);
    }

    private MambaBlock(Mamba mixer, int dModel) : base(nameof(MambaBlock))
    {
        _mixer = mixer;
        _norm = new RmsNorm("norm", dModel, NormEps);
        register_module("mixer", _mixer);
        register_module("norm", _norm);
    }

    /// <summary>
    /// The block of a MambaBlock model. The reference builds Mamba(d_model) with its defaults here; the sequence
    /// mixer config must name Mamba, and its kwargs (d_state, scan_form) are honoured.
    /// </summary>
    public static MambaBlock FromConfig(ModelConfig config)
    {
        var mixer = config.SequenceMixer;
        var kwargs = new MixerKwargs("Mamba", mixer.Kwargs);
        if (mixer.Name is not ("src.mixers.mamba.Mamba" or "Mamba"))
            throw new UserError($"block_type MambaBlock needs the sequence mixer src.mixers.mamba.Mamba, got '{mixer.Name}'");
        return new MambaBlock(Mamba.FromKwargs(kwargs, config.DModel), config.DModel);
    }

    public Mamba Mixer => _mixer;

    public override long StateSize(int sequenceLength) => ((ISequenceMixer)_mixer).StateSize(sequenceLength);

    public override (Tensor Hidden, Tensor? Residual) Forward(Tensor hidden, Tensor? residual)
    {
        var sum = residual is null ? hidden.alias() : hidden + residual;
        using var normed = _norm.forward(sum);
        return (_mixer.forward(normed), sum);
    }
}
