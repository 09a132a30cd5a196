using System.Globalization;
using System.Text.RegularExpressions;
using Rebased.Training;

namespace Rebased.Configs;

/// <summary>
/// Turns a loaded config into the one that runs: checks every value and combination (one
/// <see cref="UserError"/> each, naming the key and the file), then applies what the reference's
/// <c>update_sequence_mixer</c> applies (heads, position table length, block type, the L/4 key-value
/// rule, the micro-batching rule), reporting each change as a note.
/// </summary>
public static partial class ConfigResolver
{
    public static readonly IReadOnlyList<string> MixerNames = new[] { "rebased", "based", "rwkv", "mamba", "conv_attention", "attention" };
    public static readonly IReadOnlyList<string> BuilderNames = new[] { "multiquery_ar", "src.data.associative_recall.multiquery_ar" };
    public static readonly IReadOnlyList<string> BuilderKwargs = new[] { "num_kv_pairs", "train_power_a", "test_power_a", "random_non_queries" };
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

    /// <summary>The parts of update_sequence_mixer that concern the run (the mixer's own kwargs are the model's business).</summary>
    private static void ApplyReferencePresets(RunConfig config, List<string> notes)
    {
        var model = config.Model;
        var data = config.Data;
        var mixer = model.SequenceMixer.Name;
        Change(notes, "model.num_heads", model.NumHeads, mixer.Contains("attention") || mixer.Contains("rwkv") ? 1 : 12, v => model.NumHeads = v);
        Change(notes, "model.max_position_embeddings", model.MaxPositionEmbeddings, data.InputSeqLen, v => model.MaxPositionEmbeddings = v);
        model.BlockType = mixer.Contains("mamba") ? "MambaBlock" : "TransformerBlock";
        int kvPairs = data.InputSeqLen == 128 ? 16 : data.InputSeqLen / 4;
        data.Builder.Kwargs.TryGetValue("num_kv_pairs", out var given);
        if (given is not null && System.Convert.ToInt64(given, CultureInfo.InvariantCulture) != kvPairs)
            notes.Add($"data.builder.kwargs.num_kv_pairs: {given} -> {kvPairs} (the reference's rule: 16 for L = 128, else L/4)");
        data.Builder.Kwargs["num_kv_pairs"] = kvPairs;
        var plan = MicroBatchPlan.ForReference(data.BatchSize, data.InputSeqLen, config.GradientAccumulationSteps);
        if (plan.MicroBatchSize != data.BatchSize)
            notes.Add($"data.batch_size: {data.BatchSize} -> micro-batches of {plan.MicroBatchSize} with {plan.AccumulationSteps} gradient accumulation steps (the reference's memory rule for L >= 512)");
        data.BatchSize = plan.MicroBatchSize;
        config.GradientAccumulationSteps = plan.AccumulationSteps;
    }

    private static void Change(List<string> notes, string key, int from, int to, Action<int> set)
    {
        if (from != to) notes.Add($"{key}: {from} -> {to} (set by the mixer preset, as the reference does)");
        set(to);
    }

    private static void ValidateInputs(RunConfig c, string source)
    {
        UserError Bad(string key, string problem) => new($"{source}: {key}: {problem}");
        var mixer = c.Model.SequenceMixer.Name;
        if (string.IsNullOrEmpty(mixer)) throw Bad("model.sequence_mixer.name", $"missing; set one of {string.Join(", ", MixerNames)} (e.g. --set model.sequence_mixer.name=rebased)");
        if (!MixerNames.Contains(mixer)) throw Bad("model.sequence_mixer.name", $"unknown mixer '{mixer}' (known: {string.Join(", ", MixerNames)})");
        if (!BuilderNames.Contains(c.Data.Builder.Name)) throw Bad("data.builder.name", $"unknown data builder '{c.Data.Builder.Name}' (known: {string.Join(", ", BuilderNames)})");
        foreach (var (key, value) in c.Data.Builder.Kwargs)
        {
            var path = $"data.builder.kwargs.{key}";
            switch (key)
            {
                case "num_kv_pairs" when value is not (int or long) || System.Convert.ToInt64(value, CultureInfo.InvariantCulture) < 1:
                    throw Bad(path, $"expects a positive integer, got '{value}'");
                case "train_power_a" or "test_power_a" when value is not (int or long or double) || System.Convert.ToDouble(value, CultureInfo.InvariantCulture) <= 0:
                    throw Bad(path, $"expects a positive number, got '{value}'");
                case "random_non_queries" when value is not bool:
                    throw Bad(path, $"expects true or false, got '{value}'");
                case var k when !BuilderKwargs.Contains(k):
                    throw Bad(path, $"unknown argument of the MQAR builder (known: {string.Join(", ", BuilderKwargs)})");
            }
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
        if (mixer is "rebased" or "based" or "conv_attention" && m.NLayers != 2) throw Bad("model.n_layers", $"{mixer} is a two-layer hybrid (BaseConv, then {mixer}); n_layers must be 2, got {m.NLayers}");
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
    }

    private static void ValidateResolved(RunConfig c, string source)
    {
        var k = System.Convert.ToInt64(c.Data.Builder.Kwargs["num_kv_pairs"], CultureInfo.InvariantCulture);
        if (4 * k > c.Data.InputSeqLen)
            throw new UserError($"{source}: data.builder.kwargs.num_kv_pairs: 4·K = {4 * k} exceeds data.input_seq_len {c.Data.InputSeqLen} (the keys, values and their queries must fit)");
        if (c.Data.VocabSize / 2 - 1 < k)
            throw new UserError($"{source}: data.vocab_size: {c.Data.VocabSize} leaves fewer than {k} distinct keys");
    }

    [GeneratedRegex("^(cpu|cuda(:[0-9]+)?)$")]
    private static partial Regex DevicePattern();
}
