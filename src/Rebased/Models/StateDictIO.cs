using Rebased.IO;

namespace Rebased.Models;

/// <summary>
/// Checkpoints as safetensors state dicts under the reference's parameter names, both directions: a state dict
/// saved by the reference's <c>model.state_dict()</c> loads here, and one saved here loads there (it includes
/// lm_head.weight, the tied head, like the reference's).
/// </summary>
public static class StateDictIO
{
    public const string TiedHeadName = "lm_head.weight";
    public const string TokenEmbeddingName = "backbone.embeddings.word_embeddings.weight";

    /// <summary>The reference's state dict: every parameter by name, plus lm_head.weight (the same tensor as the token embedding).</summary>
    public static Dictionary<string, Tensor> StateDict(LanguageModel model)
    {
        var state = model.named_parameters().ToDictionary(np => np.name, np => (Tensor)np.parameter);
        foreach (var (name, buffer) in model.named_buffers()) state[name] = buffer;
        state[TiedHeadName] = model.TokenEmbedding;
        return state;
    }

    public static void Save(LanguageModel model, string path, IReadOnlyDictionary<string, string>? metadata = null) =>
        SafeTensors.Save(path, StateDict(model), metadata ?? new Dictionary<string, string> { ["format"] = "pt" });

    public static void Load(LanguageModel model, string path) => Load(model, SafeTensors.Load(path), path);

    /// <summary>
    /// Copies <paramref name="tensors"/> into the model. Every parameter must be present with its shape; no other
    /// name is allowed except lm_head.weight, which must then equal the token embedding (the head is tied).
    /// Throws a UserError naming every missing, unexpected, wrongly shaped or non-floating tensor.
    /// </summary>
    public static void Load(LanguageModel model, IReadOnlyDictionary<string, Tensor> tensors, string source)
    {
        var targets = model.named_parameters().Select(np => (np.name, Tensor: (Tensor)np.parameter))
            .Concat(model.named_buffers().Select(nb => (nb.name, Tensor: nb.buffer))).ToList();
        var known = targets.Select(t => t.name).Append(TiedHeadName).ToHashSet();
        var problems = new List<string>();
        var missing = targets.Where(t => !tensors.ContainsKey(t.name)).Select(t => t.name).ToList();
        if (missing.Count > 0) problems.Add($"missing {string.Join(", ", missing)}");
        var unexpected = tensors.Keys.Where(k => !known.Contains(k)).ToList();
        if (unexpected.Count > 0) problems.Add($"unexpected {string.Join(", ", unexpected)}");
        foreach (var (name, target) in targets.Append((TiedHeadName, model.TokenEmbedding)))
        {
            if (!tensors.TryGetValue(name, out var t)) continue;
            if (!t.shape.SequenceEqual(target.shape))
                problems.Add($"{name} has shape [{string.Join(", ", t.shape)}], the model needs [{string.Join(", ", target.shape)}]");
            else if (!t.is_floating_point())
                problems.Add($"{name} has dtype {t.dtype}, a floating-point tensor is needed");
        }
        if (problems.Count > 0)
            throw new UserError($"{source}: state dict does not match the model: {string.Join("; ", problems)}");

        using var noGrad = no_grad();
        foreach (var (name, target) in targets) target.copy_(tensors[name]);
        if (tensors.TryGetValue(TiedHeadName, out var head) && !head.to(model.TokenEmbedding.dtype).equal(model.TokenEmbedding.cpu()).all().item<bool>())
            throw new UserError($"{source}: {TiedHeadName} differs from {TokenEmbeddingName}; the head is tied to the token embedding, so they must be equal");
    }
}
