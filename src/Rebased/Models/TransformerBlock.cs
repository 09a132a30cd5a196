using Rebased.Configs;
using Rebased.Mixers;
using Rebased.Modules;
using TorchSharp.Utils;

namespace Rebased.Models;

/// <summary>
/// The reference's TransformerBlock. Pre-norm (the default):
/// r ← Dropout(h) + r; h ← SeqMixer(LN1(r)); r ← Dropout(h) + r; h ← StateMixer(LN2(r)).
/// The first dropout has the embedding rate in layer 0 and the residual rate elsewhere. With the
/// Identity state mixer the block still returns LN2(r) as h, which the next block adds to the residual.
/// Parameter names: sequence_mixer.*, norm1.*, norm2.*.
/// </summary>
public sealed class TransformerBlock : ResidualBlock
{
    [ComponentName(Name = "sequence_mixer")] private readonly nn.Module<Tensor, Tensor> _sequenceMixer;
    [ComponentName(Name = "norm1")] private readonly FusedLayerNorm _norm1;
    [ComponentName(Name = "norm2")] private readonly FusedLayerNorm _norm2;
    private readonly double _dropout1;
    private readonly double _dropout2;
    private readonly bool _preNorm;

    public TransformerBlock(ModelConfig config, int layerIdx) : base(nameof(TransformerBlock))
    {
        if (config.StateMixer.Name is not ("torch.nn.Identity" or "Identity" or "identity"))
            throw new UserError($"state mixer '{config.StateMixer.Name}' is not supported (the MQAR models use torch.nn.Identity)");
        if (config.DropPath != 0.0)
            throw new UserError($"drop_path {config.DropPath} is not supported (the MQAR models use 0)");
        _sequenceMixer = MixerFactory.Create(config.SequenceMixer, config.DModel, layerIdx);
        _norm1 = new FusedLayerNorm(config.DModel, elementwiseAffine: config.AffineNorm);
        _norm2 = new FusedLayerNorm(config.DModel, elementwiseAffine: config.AffineNorm);
        _dropout1 = layerIdx == 0 ? config.EmbedDropout : config.ResidDropout;
        _dropout2 = config.ResidDropout;
        _preNorm = config.PreNorm;
        register_module("sequence_mixer", _sequenceMixer);
        register_module("norm1", _norm1);
        register_module("norm2", _norm2);
    }

    public nn.Module<Tensor, Tensor> SequenceMixer => _sequenceMixer;

    public override long StateSize(int sequenceLength) => ((ISequenceMixer)_sequenceMixer).StateSize(sequenceLength);

    public override (Tensor Hidden, Tensor? Residual) Forward(Tensor hidden, Tensor? residual)
    {
        if (_preNorm)
        {
            var dropped = nn.functional.dropout(hidden, _dropout1, training);
            residual = residual is null ? dropped : dropped + residual;
            hidden = _sequenceMixer.forward(_norm1.forward(residual));
            residual = nn.functional.dropout(hidden, _dropout2, training) + residual;
            return (_norm2.forward(residual), residual);
        }
        residual ??= hidden;
        hidden = nn.functional.dropout(_sequenceMixer.forward(hidden), _dropout1, training) + residual;
        residual = _norm1.forward(hidden);
        hidden = nn.functional.dropout(residual, _dropout2, training) + residual;
        return (_norm2.forward(hidden), null);
    }
}
