using System.Globalization;
using System.Text.RegularExpressions;
using Rebased.Data;

namespace Rebased.Configs;

/// <summary>
/// Turns a loaded config into the one that runs: checks every value and combination (one
/// <see cref="UserError"/> each, naming the key and the file), then applies what the reference's
/// <c>update_sequence_mixer</c> applies (heads, position table length, block type, the task's kwargs derived
/// from L, the micro-batching rule), reporting each change as a note. The data task (data.builder.name) checks
/// its own kwargs and sets (<see cref="IDataTask"/>).
/// </summary>
public static partial class ConfigResolver
{
    /// <summary>Preset names (rebased, based, ...) and the expanded import paths/class names a resolved config holds.</summary>
    public static IReadOnlyList<string> MixerNames => SequenceMixerPresets.Names.Concat(Mixers.MixerFactory.Names).ToArray();
    public const string AccuracyMetric = "valid/accuracy";

    public static LoadedConfig Resolve(LoadedConfig loaded)
    {
        var config = loaded.Config;
        var notes = new List<string>(loaded.Notes);
        var source = loaded.Source;
        ValidateInputs(config, source);
        ApplyReferencePresets(config, notes);
        ValidateResolved(config, source);
        return loaded with { Notes = notes };
    }

    /// <summary>The reference's update_sequence_mixer (<see cref="SequenceMixerPresets.Apply"/>), with a note for each value it changes.</summary>
    private static void ApplyReferencePresets(RunConfig config, List<string> notes)
    {
        var model = config.Model;
        var data = config.Data;
        int heads = model.NumHeads, positions = model.MaxPositionEmbeddings, batch = data.BatchSize;
        data.Builder.Kwargs.TryGetValue("num_kv_pairs", out var givenPairs);
        SequenceMixerPresets.Apply(config);
        if (heads != model.NumHeads) notes.Add($"model.num_heads: {heads} -> {model.NumHeads} (set by the mixer preset, as the reference does)");
        if (positions != model.MaxPositionEmbeddings) notes.Add($"model.max_position_embeddings: {positions} -> {model.MaxPositionEmbeddings} (= data.input_seq_len, as the reference)");
        data.Builder.Kwargs.TryGetValue("num_kv_pairs", out var pairs);
        if (givenPairs is not null && pairs is not null && System.Convert.ToInt64(givenPairs, CultureInfo.InvariantCulture) != System.Convert.ToInt64(pairs, CultureInfo.InvariantCulture))
            notes.Add($"data.builder.kwargs.num_kv_pairs: {givenPairs} -> {pairs} (the reference's rule: 16 for L = 128, else L/4)");
        if (batch != data.BatchSize)
            notes.Add($"data.batch_size: {batch} -> micro-batches of {data.BatchSize} with {config.GradientAccumulationSteps} gradient accumulation steps (the reference's memory rule for L >= 512)");
    }

    private static void ValidateInputs(RunConfig c, string source)
    {
        UserError Bad(string key, string problem) => new($"{source}: {key}: {problem}");
        var mixer = c.Model.SequenceMixer.Name;
        if (string.IsNullOrEmpty(mixer)) throw Bad("model.sequence_mixer.name", $"missing; set one of {string.Join(", ", SequenceMixerPresets.Names)} (e.g. --set model.sequence_mixer.name=rebased)");
        if (!MixerNames.Contains(mixer)) throw Bad("model.sequence_mixer.name", $"unknown mixer '{mixer}' (known: {string.Join(", ", SequenceMixerPresets.Names)})");
        var task = DataTasks.Find(c.Data.Builder.Name)
            ?? throw Bad("data.builder.name", $"unknown data builder '{c.Data.Builder.Name}' (known: {string.Join(", ", DataTasks.BuilderNames)})");
        try
        {
            task.Kwargs.Check(c.Data.Builder.Kwargs);
        }
        catch (UserError e)
        {
            throw new UserError($"{source}: {e.Message}", e);
        }
        var d = c.Data;
        if (d.InputSeqLen < 2 || d.InputSeqLen % 2 != 0) throw Bad("data.input_seq_len", $"must be a positive even number (keys and values alternate), got {d.InputSeqLen}");
        if (d.VocabSize <= d.InputSeqLen) throw Bad("data.vocab_size", $"must exceed data.input_seq_len ({d.VocabSize} <= {d.InputSeqLen})");
        if (d.NumTrainExamples < 1) throw Bad("data.num_train_examples", $"must be at least 1, got {d.NumTrainExamples}");
        if (d.NumTestExamples < 1) throw Bad("data.num_test_examples", $"must be at least 1, got {d.NumTestExamples}");
        if (d.BatchSize < 1) throw Bad("data.batch_size", $"must be at least 1, got {d.BatchSize}");
        if (!DataGeneration.Values.Contains(d.Mode)) throw Bad("data.mode", $"unknown mode '{d.Mode}' (known: {string.Join(", ", DataGeneration.Values)})");
        var m = c.Model;
        if (m.VocabSize < d.VocabSize) throw Bad("model.vocab_size", $"{m.VocabSize} is smaller than data.vocab_size {d.VocabSize}: tokens would fall outside the embedding");
        if (m.DModel < 1) throw Bad("model.d_model", $"must be positive, got {m.DModel}");
        if (mixer is "based" or "rebased" && m.DModel < 12) throw Bad("model.d_model", $"{mixer} splits values over 12 heads of width d_model // 12, so d_model must be at least 12 (got {m.DModel})");
        if (m.NLayers < 1) throw Bad("model.n_layers", $"must be at least 1, got {m.NLayers}");
        if (mixer is "rebased" or "based" or "conv_attention" or "src.mixers.hybrid.Hybrid" or "Hybrid" && m.NLayers != 2) throw Bad("model.n_layers", $"{mixer} is a two-layer hybrid (BaseConv, then {mixer}); n_layers must be 2, got {m.NLayers}");
        foreach (var (key, p) in new[] { ("model.embed_dropout", m.EmbedDropout), ("model.resid_dropout", m.ResidDropout), ("model.drop_path", m.DropPath) })
            if (p is < 0 or >= 1) throw Bad(key, $"must be in [0, 1), got {p}");
        if (m.LayerNormEpsilon <= 0) throw Bad("model.layer_norm_epsilon", $"must be positive, got {m.LayerNormEpsilon}");
        if (c.MaxEpochs < 1) throw Bad("max_epochs", $"must be at least 1, got {c.MaxEpochs}");
        if (c.LearningRate <= 0) throw Bad("learning_rate", $"must be positive, got {c.LearningRate}");
        if (c.WeightDecay < 0) throw Bad("weight_decay", $"must not be negative, got {c.WeightDecay}");
        if (c.GradientAccumulationSteps < 1) throw Bad("gradient_accumulation_steps", $"must be at least 1, got {c.GradientAccumulationSteps}");
        if (c.EarlyStoppingMetric != AccuracyMetric) throw Bad("early_stopping_metric", $"only '{AccuracyMetric}' is supported, got '{c.EarlyStoppingMetric}'");
        if (string.IsNullOrWhiteSpace(c.RunId) || c.RunId.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || c.RunId.Contains(".."))
            throw Bad("run_id", $"'{c.RunId}' cannot name a run directory");
        if (!DevicePattern().IsMatch(c.Device)) throw Bad("device", $"expects cpu, cuda or cuda:N, got '{c.Device}'");
        if (!PrecisionNames.Names.Contains(c.Precision))
            throw Bad("precision", $"expects {string.Join(" or ", PrecisionNames.Names)}, got '{c.Precision}'");
    }

    /// <summary>The task's own checks of its sets (kwargs against the shape, e.g. MQAR's 4·K ≤ L), on the values that run.</summary>
    private static void ValidateResolved(RunConfig c, string source)
    {
        try
        {
            c.Data.Task().Splits(c.Data.Request());
        }
        catch (UserError e)
        {
            throw new UserError($"{source}: {e.Message}", e);
        }
    }

    [GeneratedRegex("^(cpu|cuda(:[0-9]+)?)$")]
    private static partial Regex DevicePattern();
}
