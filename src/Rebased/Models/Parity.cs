using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Rebased.Configs;
using Rebased.IO;
using Rebased.Kernels;
using Rebased.Mixers;

namespace Rebased.Models;

/// <summary>Relative-error limits of one parity comparison.</summary>
public sealed record ParityTolerances(double Logits, double Loss, double Gradients)
{
    /// <summary>fp32 against an fp32 reference: 1e-4 for logits and loss, 1e-3 for gradients.</summary>
    public static ParityTolerances Fp32 { get; } = new(1e-4, 1e-4, 1e-3);
}

/// <summary>
/// One set of reference results in a fixture and how to compare with it: the outputs and gradient files, the
/// tolerances, and sequence-mixer kwargs that put the model in the matching mode (merged into the top-level
/// sequence_mixer kwargs of the manifest's model_config).
/// </summary>
public sealed record ParityTarget(string Label, string OutputsFile, string GradientsFile, ParityTolerances Tolerances,
    IReadOnlyDictionary<string, object?> MixerKwargs);

/// <summary>The relative error ‖ours − ref‖₂ / ‖ref‖₂ of one tensor and its limit.</summary>
public sealed record TensorError(string Name, double Relative, double Tolerance)
{
    public bool Passed => Relative <= Tolerance;
    /// <summary>How far the error is into its tolerance (above 1 fails).</summary>
    public double Ratio => double.IsNaN(Relative) ? double.PositiveInfinity : Relative / Tolerance;
}

/// <summary>The comparison of one target: logits, loss and every gradient.</summary>
public sealed record ParityResult(ParityTarget Target, TensorError Logits, TensorError Loss, IReadOnlyList<TensorError> Gradients)
{
    public TensorError WorstGradient => Gradients.MaxBy(g => g.Ratio)!;
    public IEnumerable<TensorError> All => Gradients.Prepend(Loss).Prepend(Logits);
    public bool Passed => All.All(e => e.Passed);
    /// <summary>The tensor furthest into (or over) its tolerance.</summary>
    public TensorError Worst => All.MaxBy(e => e.Ratio)!;
}

/// <summary>A reference fixture folder: manifest.json (model_config, ...), model.safetensors, batch.safetensors, outputs and gradients.</summary>
public sealed class ParityFixture
{
    private static readonly JsonSerializerOptions ConfigJson = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    private ParityFixture(string directory, JsonObject manifest, ModelConfig modelConfig)
    {
        Directory = directory;
        Manifest = manifest;
        ModelConfig = modelConfig;
    }

    public string Directory { get; }
    public JsonObject Manifest { get; }
    public ModelConfig ModelConfig { get; }

    /// <summary>A fresh copy of the manifest's model_config (callers may change it).</summary>
    public ModelConfig CreateModelConfig() => Deserialize(Manifest["model_config"]!.AsObject(), System.IO.Path.Combine(Directory, "manifest.json"));

    public string PathOf(string file) => System.IO.Path.Combine(Directory, file);
    public bool Has(string file) => File.Exists(PathOf(file));

    public static ParityFixture Load(string directory)
    {
        if (!System.IO.Directory.Exists(directory)) throw new UserError($"{directory}: fixture folder not found");
        var manifestPath = System.IO.Path.Combine(directory, "manifest.json");
        if (!File.Exists(manifestPath)) throw new UserError($"{manifestPath}: file not found (a fixture folder holds manifest.json)");
        JsonObject manifest;
        try
        {
            manifest = JsonNode.Parse(File.ReadAllText(manifestPath)) as JsonObject
                ?? throw new UserError($"{manifestPath}: not a JSON object");
        }
        catch (JsonException e)
        {
            throw new UserError($"{manifestPath}: not valid JSON ({e.Message})", e);
        }
        if (manifest["model_config"] is not JsonObject modelNode) throw new UserError($"{manifestPath}: no model_config object");
        var config = Deserialize(modelNode, manifestPath);
        foreach (var file in new[] { "model.safetensors", "batch.safetensors" })
            if (!File.Exists(System.IO.Path.Combine(directory, file))) throw new UserError($"{directory}: {file} missing");
        return new ParityFixture(directory, manifest, config);
    }

    private static ModelConfig Deserialize(JsonObject node, string source)
    {
        try
        {
            return node.Deserialize<ModelConfig>(ConfigJson) ?? throw new UserError($"{source}: model_config is null");
        }
        catch (JsonException e)
        {
            throw new UserError($"{source}: model_config does not fit the model schema ({e.Message})", e);
        }
    }
}

/// <summary>
/// Parity with the reference: build the model of a fixture's manifest, load its weights, run the eval-mode forward
/// pass and the backward pass of the mean cross-entropy (ignore index −100) on the fixture's batch, and compare
/// logits, loss and every parameter's gradient with the reference's.
/// </summary>
public static class Parity
{
    private static readonly IReadOnlyDictionary<string, object?> NoKwargs = new Dictionary<string, object?>();

    /// <summary>
    /// What a fixture is compared with. Usually outputs/grads at fp32 tolerances. An RWKV fixture made with
    /// RWKV_FLOAT_MODE=bf16 is compared in the bf16-rounding mode with outputs/grads (gradients ≤ 5e-3), and in the exact
    /// fp32 mode with outputs_fp32wkv/grads_fp32wkv where present.
    /// </summary>
    public static IReadOnlyList<ParityTarget> Targets(ParityFixture fixture)
    {
        var rwkvMode = fixture.Manifest["rwkv"]?["RWKV_FLOAT_MODE"]?.GetValue<string>();
        if (rwkvMode is not ("bf16" or "bfloat16"))
            return new[] { new ParityTarget("fp32", "outputs.safetensors", "grads.safetensors", ParityTolerances.Fp32, NoKwargs) };
        var targets = new List<ParityTarget>
        {
            new("bf16 wkv", "outputs.safetensors", "grads.safetensors", ParityTolerances.Fp32 with { Gradients = 5e-3 },
                new Dictionary<string, object?> { [Rwkv4TimeMixer.Bf16RoundingKwarg] = true }),
        };
        if (fixture.Has("outputs_fp32wkv.safetensors") && fixture.Has("grads_fp32wkv.safetensors"))
            targets.Add(new("fp32 wkv", "outputs_fp32wkv.safetensors", "grads_fp32wkv.safetensors", ParityTolerances.Fp32,
                new Dictionary<string, object?> { [Rwkv4TimeMixer.Bf16RoundingKwarg] = false }));
        return targets;
    }

    /// <summary>Runs every target of the fixture.</summary>
    public static IReadOnlyList<ParityResult> Run(ParityFixture fixture, Device? device = null) =>
        Targets(fixture).Select(t => Run(fixture, t, device)).ToList();

    public static ParityResult Run(ParityFixture fixture, ParityTarget target, Device? device = null)
    {
        device ??= CPU;
        foreach (var file in new[] { target.OutputsFile, target.GradientsFile })
            if (!fixture.Has(file)) throw new UserError($"{fixture.Directory}: {file} missing");
        // fp32 as the reference ran it: no TF32 in CUDA matmuls and convolutions (CPU ops here are deterministic).
        bool matmulTf32 = backends.cuda.matmul.allow_tf32, cudnnTf32 = backends.cudnn.allow_tf32;
        backends.cuda.matmul.allow_tf32 = false;
        backends.cudnn.allow_tf32 = false;
        try
        {
            return Compare(fixture, target, device);
        }
        finally
        {
            backends.cuda.matmul.allow_tf32 = matmulTf32;
            backends.cudnn.allow_tf32 = cudnnTf32;
        }
    }

    private static ParityResult Compare(ParityFixture fixture, ParityTarget target, Device device)
    {
        using var scope = NewDisposeScope();
        using var model = new LanguageModel(WithMixerKwargs(fixture.CreateModelConfig(), target.MixerKwargs));
        StateDictIO.Load(model, fixture.PathOf("model.safetensors"));
        model.to(device);
        model.eval();
        var batch = SafeTensors.Load(fixture.PathOf("batch.safetensors"));
        var inputIds = Required(batch, "input_ids", fixture.PathOf("batch.safetensors")).to(device);
        var labels = Required(batch, "labels", fixture.PathOf("batch.safetensors")).to(device);

        var logits = model.forward(inputIds);
        var loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), labels.reshape(-1), ignore_index: -100);
        loss.backward();

        var outputsPath = fixture.PathOf(target.OutputsFile);
        var outputs = SafeTensors.Load(outputsPath);
        var tol = target.Tolerances;
        var logitsError = new TensorError("logits", TensorErrors.Relative(logits, Required(outputs, "logits", outputsPath)), tol.Logits);
        var lossError = new TensorError("loss", TensorErrors.Relative(loss, Required(outputs, "loss", outputsPath)), tol.Loss);

        var gradsPath = fixture.PathOf(target.GradientsFile);
        var grads = SafeTensors.Load(gradsPath);
        var parameters = model.named_parameters().Where(np => np.parameter.requires_grad).ToList();
        var unexpected = grads.Keys.Except(parameters.Select(np => np.name)).ToList();
        var missing = parameters.Select(np => np.name).Except(grads.Keys).ToList();
        if (unexpected.Count > 0 || missing.Count > 0)
            throw new UserError($"{gradsPath}: gradients do not match the model's parameters" +
                (missing.Count > 0 ? $"; missing {string.Join(", ", missing)}" : "") +
                (unexpected.Count > 0 ? $"; unexpected {string.Join(", ", unexpected)}" : ""));
        var gradientErrors = parameters.Select(np =>
        {
            var ours = np.parameter.grad ?? zeros_like(np.parameter);
            return new TensorError(np.name, TensorErrors.Relative(ours, grads[np.name]), tol.Gradients);
        }).ToList();
        return new ParityResult(target, logitsError, lossError, gradientErrors);
    }

    private static ModelConfig WithMixerKwargs(ModelConfig config, IReadOnlyDictionary<string, object?> kwargs)
    {
        foreach (var (k, v) in kwargs) config.SequenceMixer.Kwargs[k] = v;
        return config;
    }

    private static Tensor Required(Dictionary<string, Tensor> tensors, string name, string source) =>
        tensors.TryGetValue(name, out var t) ? t : throw new UserError($"{source}: tensor '{name}' missing");
}
