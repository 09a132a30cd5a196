namespace Rebased.Configs;

/// <summary>
/// The reference's <c>update_sequence_mixer</c> (configs/utils.py): expands a short mixer name into the full
/// model config the MQAR sweep trains, and sets what it derives from the data config. Run once on a loaded
/// <see cref="RunConfig"/> (<see cref="Apply"/>).
/// <list type="bullet">
/// <item>attention: MHA (dropout 0.1) in every layer; conv_attention: Hybrid [BaseConv k=3, MHA].</item>
/// <item>based / rebased: Hybrid [BaseConv k=3, Based / ReBased (feature_dim 16, 12 heads)]; mamba: Mamba (d_state 16)
/// in MambaBlocks; rwkv: RWKVTimeMixer (n_layer 2) in every layer; conv_rwkv, double_based, double_rebased as the reference.</item>
/// <item>ReBased ablations (paper §5.3): rebased_x2 (x²), rebased_gamma ((γx)²), rebased_gamma_beta ((γx+β)²),
/// rebased_norm (norm(x)²) set the model's use_gamma/use_beta/normalize flags, then expand as rebased.</item>
/// <item>Beyond the reference, as Zoology's MQAR sweeps set them up (BaseConv k=3 first, 2 heads, FLA's layer defaults
/// otherwise): gla: Hybrid [BaseConv, GatedLinearAttention (expand_k 0.5, expand_v 1, gate rank 16, gate
/// normaliser 16, output gate, no feature map)]; deltanet: Hybrid [BaseConv, DeltaNet (expand_k 1, expand_v 1, β,
/// silu + L2-normalised q and k, short convolutions of 4 taps on q, k and v)]. At d_model 128 the second layer's
/// state is 2·32·64 = 4096 numbers (gla) and 2·64·64 + 3·128·3 = 9344 (deltanet). The user's kwargs go to that layer.</item>
/// </list>
/// Also: num_heads 1 for names containing attention or rwkv, 2 for gla and deltanet, else 12; max_position_embeddings = input_seq_len;
/// block_type MambaBlock for mamba; the task's kwargs derived from L, for MQAR num_kv_pairs = 16 at L = 128, else L/4 (unless data.kv_pairs_rule is false); and for L ≥ 512 with a batch above 64,
/// micro-batches of 256/(L/512) with gradient accumulation up to the same effective batch.
/// </summary>
public static class SequenceMixerPresets
{
    private static readonly Dictionary<string, (bool UseGamma, bool UseBeta, bool Normalize)> Ablations = new()
    {
        ["rebased_x2"] = (false, false, false),
        ["rebased_gamma"] = (true, false, false),
        ["rebased_gamma_beta"] = (true, true, false),
        ["rebased_norm"] = (false, false, true),
    };

    private static readonly string[] BaseNames =
        { "attention", "conv_attention", "based", "rebased", "mamba", "rwkv", "conv_rwkv", "double_based", "double_rebased", "gla", "deltanet" };

    /// <summary>The head count of the gla and deltanet presets (Zoology's MQAR setups of both).</summary>
    public const int RecurrentStateHeads = 2;

    /// <summary>Every short name <see cref="Apply"/> expands.</summary>
    public static IReadOnlyList<string> Names { get; } = BaseNames.Concat(Ablations.Keys).ToArray();

    /// <summary>Kwargs of a short name that are passed on to Based/ReBased (the reference passes none; this project's kernel choice).</summary>
    public const string AttentionFormKwarg = "attention_form";

    /// <summary>Expands the sequence mixer (when its name is a short name) and sets the derived fields, in place, as the reference does.</summary>
    public static RunConfig Apply(RunConfig config)
    {
        var model = config.Model;
        var data = config.Data;
        var name = model.SequenceMixer.Name;
        if (Names.Contains(name))
        {
            model.NumHeads = name.Contains("attention") || name.Contains("rwkv") ? 1 : name is "gla" or "deltanet" ? RecurrentStateHeads : 12;
            if (Ablations.TryGetValue(name, out var flags))
                (model.UseGamma, model.UseBeta, model.Normalize) = flags;
            model.SequenceMixer = Expand(name, model, data.InputSeqLen, model.SequenceMixer.Kwargs);
        }
        model.MaxPositionEmbeddings = data.InputSeqLen;
        model.BlockType = model.SequenceMixer.Name.Contains("mamba") ? "MambaBlock" : "TransformerBlock";
        if (data.KvPairsRule) Data.DataTasks.Find(data.Builder.Name)?.ApplySequenceLengthRule(data.Builder.Kwargs, data.InputSeqLen);
        if (data.InputSeqLen >= 512 && data.BatchSize > 64)
        {
            int maxBatch = 256 / (data.InputSeqLen / 512);
            if (maxBatch < data.BatchSize)
            {
                config.GradientAccumulationSteps = data.BatchSize / maxBatch;
                data.BatchSize = maxBatch;
            }
        }
        return config;
    }

    /// <summary>The short name whose expansion is this model's mixer config (e.g. "rebased" for the Hybrid [BaseConv, ReBased]
    /// of a run directory's config.yaml), or null when none expands to it (a hand-written mixer, or user kwargs).</summary>
    public static string? NameOf(ModelConfig model, int seqLen)
    {
        var actual = Canonical(new Dictionary<string, object?> { ["name"] = model.SequenceMixer.Name, ["kwargs"] = model.SequenceMixer.Kwargs });
        foreach (var name in Names)
        {
            if (Ablations.TryGetValue(name, out var flags) && flags != (model.UseGamma, model.UseBeta, model.Normalize)) continue;
            if (name == "rebased" && Ablations.ContainsValue((model.UseGamma, model.UseBeta, model.Normalize))) continue;
            var expanded = Expand(name, model, seqLen, new Dictionary<string, object?>());
            if (Canonical(new Dictionary<string, object?> { ["name"] = expanded.Name, ["kwargs"] = expanded.Kwargs }) == actual) return name;
        }
        return null;
    }

    /// <summary>A config value as text that does not depend on how it was loaded (YAML scalars as strings, ints as longs).</summary>
    private static string Canonical(object? value) => value switch
    {
        null => "null",
        IDictionary<string, object?> d => "{" + string.Join(",", d.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={Canonical(p.Value)}")) + "}",
        IDictionary<object, object?> d => Canonical(d.ToDictionary(p => Convert.ToString(p.Key, System.Globalization.CultureInfo.InvariantCulture)!, p => p.Value)),
        string t when bool.TryParse(t, out var b) => Canonical(b),
        string t when double.TryParse(t, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var x) => Canonical(x),
        string t => t,
        bool b => b ? "true" : "false",
        System.Collections.IEnumerable list => "[" + string.Join(",", list.Cast<object?>().Select(Canonical)) + "]",
        IConvertible n => Convert.ToDouble(n, System.Globalization.CultureInfo.InvariantCulture).ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    /// <summary>The full mixer config of a short name, for sequences of length <paramref name="seqLen"/>.</summary>
    public static ComponentConfig Expand(string name, ModelConfig model, int seqLen, IReadOnlyDictionary<string, object?> userKwargs)
    {
        var baseConv = Component("src.mixers.base_conv.BaseConv", new() { ["l_max"] = seqLen, ["kernel_size"] = 3 });
        var mha = Component("src.mixers.attention.MHA", Merge(new() { ["dropout"] = 0.1 }, userKwargs));
        var rwkv = Component("src.mixers.rwkv.RWKVTimeMixer", Merge(new() { ["l_max"] = seqLen, ["n_layer"] = 2 }, userKwargs));
        var based = Component("src.mixers.based.Based", Merge(new()
        {
            ["l_max"] = seqLen, ["feature_dim"] = 16, ["num_key_value_heads"] = model.NumHeads, ["num_heads"] = model.NumHeads,
            ["feature_name"] = "taylor_exp", ["qk_norm"] = false,
        }, AttentionForm(userKwargs)));
        var rebased = Component("src.mixers.rebased.ReBased", Merge(new()
        {
            ["l_max"] = seqLen, ["feature_dim"] = 16, ["num_key_value_heads"] = model.NumHeads, ["num_heads"] = model.NumHeads,
            ["feature_name"] = "taylor_exp", ["use_beta"] = model.UseBeta, ["use_gamma"] = model.UseGamma, ["normalize"] = model.Normalize,
        }, AttentionForm(userKwargs)));
        var gla = Component("zoology.mixers.gla.GatedLinearAttention", Merge(new()
        {
            ["l_max"] = seqLen, ["num_heads"] = model.NumHeads, ["expand_k"] = 0.5, ["expand_v"] = 1.0,
            ["gate_low_rank_dim"] = 16, ["gate_logit_normalizer"] = 16, ["use_output_gate"] = true, ["feature_map"] = "identity",
        }, userKwargs));
        var deltaNet = Component("zoology.mixers.delta_net.DeltaNet", Merge(new()
        {
            ["l_max"] = seqLen, ["num_heads"] = model.NumHeads, ["expand_k"] = 1.0, ["expand_v"] = 1.0,
            ["use_beta"] = true, ["use_gate"] = false, ["use_short_conv"] = true, ["conv_size"] = 4, ["qk_activation"] = "silu", ["qk_norm"] = "l2",
        }, userKwargs));
        return name switch
        {
            "attention" => ToConfig(mha),
            "conv_attention" => Hybrid(baseConv, mha),
            "based" => Hybrid(baseConv, based),
            "rebased" or "rebased_x2" or "rebased_gamma" or "rebased_gamma_beta" or "rebased_norm" => Hybrid(baseConv, rebased),
            "mamba" => new ComponentConfig { Name = "src.mixers.mamba.Mamba", Kwargs = Merge(new() { ["d_state"] = 16 }, userKwargs) },
            "rwkv" => ToConfig(rwkv),
            "conv_rwkv" => Hybrid(baseConv, rwkv),
            "double_based" => Hybrid(based, based),
            "double_rebased" => Hybrid(rebased, rebased),
            "gla" => Hybrid(baseConv, gla),
            "deltanet" => Hybrid(baseConv, deltaNet),
            _ => throw new UserError($"unknown sequence mixer preset '{name}' (known: {string.Join(", ", Names)})"),
        };
    }

    private static Dictionary<string, object?> Component(string name, Dictionary<string, object?> kwargs) =>
        new() { ["name"] = name, ["kwargs"] = kwargs };

    private static ComponentConfig ToConfig(Dictionary<string, object?> component) =>
        new() { Name = (string)component["name"]!, Kwargs = new Dictionary<string, object?>((Dictionary<string, object?>)component["kwargs"]!) };

    private static ComponentConfig Hybrid(Dictionary<string, object?> layer0, Dictionary<string, object?> layer1) =>
        new() { Name = "src.mixers.hybrid.Hybrid", Kwargs = new() { ["configs"] = new List<object?> { layer0, layer1 } } };

    private static Dictionary<string, object?> Merge(Dictionary<string, object?> defaults, IReadOnlyDictionary<string, object?> overrides)
    {
        foreach (var (k, v) in overrides) defaults[k] = v;
        return defaults;
    }

    private static Dictionary<string, object?> AttentionForm(IReadOnlyDictionary<string, object?> userKwargs) =>
        userKwargs.TryGetValue(AttentionFormKwarg, out var form) ? new() { [AttentionFormKwarg] = form } : new();
}
