using Rebased.Configs;
using Rebased.Modules;
using TorchSharp.Modules;
using TorchSharp.Utils;

namespace Rebased.Models;

/// <summary>
/// The reference's LanguageModel: token + learned position embeddings, n residual blocks, final LayerNorm and
/// an LM head tied to the token embedding (logits = h·Eᵀ, no bias). Parameter names are the reference's
/// (backbone.embeddings.word_embeddings.weight, backbone.layers.0.sequence_mixer..., backbone.ln_f.weight);
/// the tied head has no parameter of its own and appears as lm_head.weight only in saved state dicts
/// (<see cref="StateDictIO"/>). Initialised as the reference (<see cref="ReferenceInitialisation"/>).
/// </summary>
public sealed class LanguageModel : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "backbone")] private readonly LMBackbone _backbone;

    public LanguageModel(ModelConfig config) : base(nameof(LanguageModel))
    {
        Validate(config);
        Config = config;
        int multiple = config.PadVocabSizeMultiple;
        VocabSize = (config.VocabSize + multiple - 1) / multiple * multiple;
        _backbone = new LMBackbone(config, VocabSize);
        register_module("backbone", _backbone);
        ReferenceInitialisation.Apply(this, config.NLayers, VocabSize, config.DModel);
    }

    public ModelConfig Config { get; }

    /// <summary>The vocabulary size after padding to pad_vocab_size_multiple.</summary>
    public int VocabSize { get; }

    public LMBackbone Backbone => _backbone;

    /// <summary>The token embedding E [V, d], which is also the LM head.</summary>
    public Parameter TokenEmbedding => _backbone.Embeddings.WordEmbeddings.weight!;

    /// <summary>int64 [B, L] → logits [B, L, V].</summary>
    public override Tensor forward(Tensor inputIds)
    {
        using var scope = NewDisposeScope();
        return Logits(Hidden(inputIds)).MoveToOuterDisposeScope();
    }

    /// <summary>int64 [B, L] → [B, L, d], after the final LayerNorm.</summary>
    public Tensor Hidden(Tensor inputIds) => _backbone.forward(inputIds);

    /// <summary>hidden [..., d] → logits [..., V] through the tied head.</summary>
    public Tensor Logits(Tensor hidden) => MixedPrecision.Linear(hidden, TokenEmbedding);

    /// <summary>Number of parameters, the tied embedding/head counted once (as the reference prints it).</summary>
    public long ParameterCount() => parameters().Sum(p => p.numel());

    /// <summary>Each layer's recurrent state size after <paramref name="sequenceLength"/> tokens (<see cref="Mixers.ISequenceMixer.StateSize"/>).</summary>
    public IReadOnlyList<long> StateSizes(int sequenceLength) => _backbone.Layers.Select(l => l.StateSize(sequenceLength)).ToList();

    /// <summary>The same without building the whole model: each layer's block alone is built (under no_grad) and asked.</summary>
    public static IReadOnlyList<long> StateSizes(ModelConfig config, int sequenceLength)
    {
        using var noGrad = no_grad();
        return Enumerable.Range(0, config.NLayers).Select(i =>
        {
            using var block = BlockFactory.Create(config, i);
            return block.StateSize(sequenceLength);
        }).ToList();
    }

    private static void Validate(ModelConfig config)
    {
        if (config.DModel < 1) throw new UserError($"model.d_model must be positive, got {config.DModel}");
        if (config.NLayers < 1) throw new UserError($"model.n_layers must be positive, got {config.NLayers}");
        if (config.VocabSize < 1) throw new UserError($"model.vocab_size must be positive, got {config.VocabSize}");
        if (config.PadVocabSizeMultiple < 1) throw new UserError($"model.pad_vocab_size_multiple must be positive, got {config.PadVocabSizeMultiple}");
        if (config.MaxPositionEmbeddings < 0) throw new UserError($"model.max_position_embeddings must not be negative, got {config.MaxPositionEmbeddings}");
        foreach (var (name, p) in new[] { ("embed_dropout", config.EmbedDropout), ("resid_dropout", config.ResidDropout) })
            if (p is < 0 or >= 1) throw new UserError($"model.{name} must be in [0, 1), got {p}");
    }
}

/// <summary>Embeddings, blocks and the final LayerNorm (the reference's LMBackbone; names embeddings.*, layers.N.*, ln_f.*).</summary>
public sealed class LMBackbone : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "embeddings")] private readonly TokenEmbeddings _embeddings;
    [ComponentName(Name = "layers")] private readonly ModuleList<ResidualBlock> _layers;
    [ComponentName(Name = "ln_f")] private readonly FusedLayerNorm _lnF;
    private readonly double _dropoutF;

    public LMBackbone(ModelConfig config, int vocabSize) : base(nameof(LMBackbone))
    {
        _embeddings = new TokenEmbeddings(config.DModel, vocabSize, config.MaxPositionEmbeddings, config.LearnableWordEmbeddings);
        _layers = new ModuleList<ResidualBlock>(Enumerable.Range(0, config.NLayers).Select(i => BlockFactory.Create(config, i)).ToArray());
        _lnF = new FusedLayerNorm(config.DModel, config.LayerNormEpsilon);
        _dropoutF = config.ResidDropout;
        register_module("embeddings", _embeddings);
        register_module("layers", _layers);
        register_module("ln_f", _lnF);
    }

    public TokenEmbeddings Embeddings => _embeddings;
    public IList<ResidualBlock> Layers => _layers;

    public override Tensor forward(Tensor inputIds)
    {
        using var scope = NewDisposeScope();
        var hidden = _embeddings.forward(inputIds);
        Tensor? residual = null;
        foreach (var layer in _layers) (hidden, residual) = layer.Forward(hidden, residual);
        var dropped = nn.functional.dropout(hidden, _dropoutF, training);
        residual = residual is null ? dropped : dropped + residual;
        return _lnF.forward(residual).MoveToOuterDisposeScope();
    }
}

/// <summary>Token embedding plus a learned absolute position embedding for positions 0..L−1 (names word_embeddings, position_embeddings).</summary>
public sealed class TokenEmbeddings : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "word_embeddings")] private readonly Embedding _wordEmbeddings;
    [ComponentName(Name = "position_embeddings")] private readonly Embedding? _positionEmbeddings;

    public TokenEmbeddings(int dModel, int vocabSize, int maxPositionEmbeddings, bool learnable) : base(nameof(TokenEmbeddings))
    {
        _wordEmbeddings = nn.Embedding(vocabSize, dModel);
        if (!learnable) _wordEmbeddings.weight!.requires_grad = false;
        register_module("word_embeddings", _wordEmbeddings);
        MaxPositionEmbeddings = maxPositionEmbeddings;
        if (maxPositionEmbeddings <= 0) return;
        _positionEmbeddings = nn.Embedding(maxPositionEmbeddings, dModel);
        register_module("position_embeddings", _positionEmbeddings);
    }

    public Embedding WordEmbeddings => _wordEmbeddings;
    public int MaxPositionEmbeddings { get; }

    public override Tensor forward(Tensor inputIds)
    {
        if (inputIds.dim() != 2) throw new UserError($"input ids must be [batch, length], got shape [{string.Join(", ", inputIds.shape)}]");
        long length = inputIds.shape[1];
        var embeddings = _wordEmbeddings.forward(inputIds);
        if (_positionEmbeddings is null) return embeddings;
        if (length > MaxPositionEmbeddings)
            throw new UserError($"sequence length {length} exceeds max_position_embeddings {MaxPositionEmbeddings}");
        using var positions = arange(length, dtype: ScalarType.Int64, device: inputIds.device);
        using var positionEmbeddings = _positionEmbeddings.forward(positions);
        return embeddings.add_(positionEmbeddings);
    }
}
