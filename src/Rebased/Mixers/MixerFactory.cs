using Rebased.Configs;

namespace Rebased.Mixers;

/// <summary>
/// Builds a sequence mixer from a config. Each mixer is registered once under the reference's import path
/// (as written in its configs and checkpoints' manifests; Zoology's for the mixers the reference lacks) and its class name; short preset names (based,
/// rebased, conv_attention, ...) are expanded to such configs by <see cref="SequenceMixerPresets"/> first.
/// </summary>
public static class MixerFactory
{
    /// <summary>Builds the mixer of layer <c>layerIdx</c> from its keyword arguments.</summary>
    public delegate nn.Module<Tensor, Tensor> Builder(MixerKwargs kwargs, int dModel, int layerIdx);

    private sealed record Entry(string Path, Builder Build)
    {
        public string ClassName => Path[(Path.LastIndexOf('.') + 1)..];
    }

    private static readonly Entry[] Entries =
    {
        new("src.mixers.attention.MHA", (k, d, _) => MultiHeadAttention.FromKwargs(k, d)),
        new("src.mixers.base_conv.BaseConv", BaseConv.FromKwargs),
        new("src.mixers.based.Based", (k, d, _) => Based.FromKwargs(k, d)),
        new("src.mixers.rebased.ReBased", (k, d, _) => ReBased.FromKwargs(k, d)),
        new("src.mixers.hybrid.Hybrid", Hybrid.FromKwargs),
        new("src.mixers.rwkv.RWKVTimeMixer", Rwkv4TimeMixer.FromKwargs),
        new("src.mixers.mamba.Mamba", (k, d, _) => Mamba.FromKwargs(k, d)),
        new("zoology.mixers.gla.GatedLinearAttention", (k, d, _) => GatedLinearAttention.FromKwargs(k, d)),
        new("zoology.mixers.delta_net.DeltaNet", (k, d, _) => DeltaNet.FromKwargs(k, d)),
    };

    /// <summary>Every name the factory accepts: import paths and class names.</summary>
    public static IEnumerable<string> Names => Entries.SelectMany(e => new[] { e.Path, e.ClassName });

    public static nn.Module<Tensor, Tensor> Create(ComponentConfig config, int dModel, int layerIdx)
    {
        var entry = Array.Find(Entries, e => e.Path == config.Name || e.ClassName == config.Name);
        if (entry is null)
        {
            if (SequenceMixerPresets.Names.Contains(config.Name))
                throw new UserError($"sequence mixer '{config.Name}' is a preset name: expand it with SequenceMixerPresets.Apply (run configs do on load)");
            throw new UserError($"unknown sequence mixer '{config.Name}' (known: {string.Join(", ", Entries.Select(e => e.Path))})");
        }
        return entry.Build(new MixerKwargs(entry.ClassName, config.Kwargs), dModel, layerIdx);
    }
}
