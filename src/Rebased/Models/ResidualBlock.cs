using Rebased.Configs;

namespace Rebased.Models;

/// <summary>
/// One layer of the backbone in the reference's residual-stream form: takes the previous block's
/// (hidden, residual) — (embeddings, null) for the first — and returns the next pair.
/// </summary>
public abstract class ResidualBlock : nn.Module
{
    protected ResidualBlock(string name) : base(name) { }

    public abstract (Tensor Hidden, Tensor? Residual) Forward(Tensor hidden, Tensor? residual);

    /// <summary>Its sequence mixer's recurrent state size (<see cref="Mixers.ISequenceMixer.StateSize"/>).</summary>
    public abstract long StateSize(int sequenceLength);
}

/// <summary>Builds the blocks named by <c>block_type</c>.</summary>
public static class BlockFactory
{
    private static readonly Dictionary<string, Func<ModelConfig, int, ResidualBlock>> Builders = new()
    {
        ["TransformerBlock"] = (config, layerIdx) => new TransformerBlock(config, layerIdx),
        ["MambaBlock"] = (config, _) => MambaBlock.FromConfig(config),
    };

    public static IEnumerable<string> Names => Builders.Keys;

    public static ResidualBlock Create(ModelConfig config, int layerIdx) =>
        Builders.TryGetValue(config.BlockType, out var build)
            ? build(config, layerIdx)
            : throw new UserError($"unknown block_type '{config.BlockType}' (known: {string.Join(", ", Builders.Keys)})");
}
