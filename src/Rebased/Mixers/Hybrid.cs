using Rebased.Configs;
using TorchSharp.Utils;

namespace Rebased.Mixers;

/// <summary>
/// A different mixer per layer: layer i instantiates configs[i] (the reference's <c>Hybrid</c>; for based,
/// rebased and conv_attention layer 0 is BaseConv and layer 1 the named mixer). Parameter names: mixer.*.
/// </summary>
public sealed class Hybrid : nn.Module<Tensor, Tensor>, ISequenceMixer
{
    [ComponentName(Name = "mixer")] private readonly nn.Module<Tensor, Tensor> _mixer;

    public Hybrid(IReadOnlyList<ComponentConfig> configs, int dModel, int layerIdx) : base(nameof(Hybrid))
    {
        if (layerIdx >= configs.Count)
            throw new UserError($"Hybrid: layer {layerIdx} has no entry in configs (it lists {configs.Count}; give one per layer)");
        _mixer = MixerFactory.Create(configs[layerIdx], dModel, layerIdx);
        register_module("mixer", _mixer);
    }

    public nn.Module<Tensor, Tensor> Mixer => _mixer;

    public static Hybrid FromKwargs(MixerKwargs kwargs, int dModel, int layerIdx)
    {
        var module = new Hybrid(kwargs.Configs("configs"), dModel, layerIdx);
        kwargs.RejectUnused();
        return module;
    }

    public long StateSize(int sequenceLength) => ((ISequenceMixer)_mixer).StateSize(sequenceLength);

    public override Tensor forward(Tensor u) => _mixer.forward(u);
}
