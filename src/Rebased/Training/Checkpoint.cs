using System.Text.Json;
using System.Text.Json.Serialization;
using Rebased.IO;
using Rebased.Models;

namespace Rebased.Training;

/// <summary>
/// Where the loop stands, saved with a checkpoint so that a resumed run continues exactly: the next
/// loader batch of the epoch, the optimizer step count, the running sums of the epoch's training loss,
/// the best accuracy so far and the elapsed time. Randomness needs no saved generator state: data order is
/// a function of (seed, epoch) and dropout is reseeded from (seed, epoch, batch) at every micro-batch.
/// </summary>
public sealed record TrainingPosition(
    [property: JsonPropertyName("epoch")] int Epoch,
    [property: JsonPropertyName("next_batch")] int NextBatch,
    [property: JsonPropertyName("optimizer_steps")] long OptimizerSteps,
    [property: JsonPropertyName("epoch_loss_sum")] double EpochLossSum,
    [property: JsonPropertyName("epoch_loss_count")] int EpochLossCount,
    [property: JsonPropertyName("epoch_tokens")] long EpochTokens,
    [property: JsonPropertyName("epoch_train_seconds")] double EpochTrainSeconds,
    [property: JsonPropertyName("best_accuracy")] double BestAccuracy,
    [property: JsonPropertyName("elapsed_s")] double ElapsedSeconds,
    [property: JsonPropertyName("config_hash")] string ConfigHash,
    [property: JsonPropertyName("parameter_count")] long ParameterCount);

/// <summary>
/// checkpoints/NAME/: model.safetensors (a language model's state dict under the reference's names, loadable
/// by the reference), optimizer.safetensors (AdamW's moments, step count in the metadata) and position.json;
/// a checkpoint is written beside the old one and swapped in, so a crash leaves the previous one intact.
/// </summary>
public static class Checkpoint
{
    private const string ModelFile = "model.safetensors";
    private const string OptimizerFile = "optimizer.safetensors";
    private const string PositionFile = "position.json";

    public static void Save(string dir, TrainingModel model, AdamW optimizer, TrainingPosition position)
    {
        var temp = dir + ".tmp";
        try
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, true);
            Directory.CreateDirectory(temp);
            if (model.Module is LanguageModel languageModel) StateDictIO.Save(languageModel, Path.Combine(temp, ModelFile));
            else SafeTensors.Save(Path.Combine(temp, ModelFile), model.Module.state_dict(), new Dictionary<string, string> { ["format"] = "pt" });
            SafeTensors.Save(Path.Combine(temp, OptimizerFile), optimizer.StateTensors(),
                new Dictionary<string, string> { ["steps"] = optimizer.Steps.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            File.WriteAllText(Path.Combine(temp, PositionFile), JsonSerializer.Serialize(position, Json.Indented));
        }
        catch (IOException e)
        {
            try { Directory.Delete(temp, true); } catch (IOException) { }
            throw new UserError($"{dir}: cannot write the checkpoint ({e.Message}); the previous checkpoint is kept: free space and resume the run with --resume", e);
        }
        SwapIn(temp, dir);
    }

    public static void Copy(string from, string to)
    {
        var temp = to + ".tmp";
        if (Directory.Exists(temp)) Directory.Delete(temp, true);
        Directory.CreateDirectory(temp);
        foreach (var file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(temp, Path.GetFileName(file)));
        SwapIn(temp, to);
    }

    /// <summary>
    /// Whether <paramref name="dir"/> holds a checkpoint to resume from, or dir.old does (the trainer was stopped in the
    /// middle of replacing it; <see cref="Recover"/> restores it).
    /// </summary>
    public static bool Exists(string dir) =>
        new[] { dir, Old(dir) }.Any(d => Directory.Exists(d) && Directory.EnumerateFileSystemEntries(d).Any());

    private static string Old(string dir) => dir + ".old";

    /// <summary>Replaces dir by the complete checkpoint in temp; at every moment either dir or dir.old is a complete checkpoint.</summary>
    private static void SwapIn(string temp, string dir)
    {
        var old = Old(dir);
        if (Directory.Exists(old)) Directory.Delete(old, true);
        if (Directory.Exists(dir)) Directory.Move(dir, old);
        Directory.Move(temp, dir);
        if (Directory.Exists(old)) Directory.Delete(old, true);
    }

    /// <summary>
    /// Repairs what a trainer stopped while writing the checkpoint in <paramref name="dir"/> left behind: a partial
    /// dir.tmp is removed, and a dir.old without dir (stopped in the middle of the swap) becomes dir again.
    /// Returns what it did, for the log (empty when there was nothing to repair).
    /// </summary>
    public static IReadOnlyList<string> Recover(string dir)
    {
        var done = new List<string>();
        var old = Old(dir);
        if (Directory.Exists(old))
        {
            if (Directory.Exists(dir)) Directory.Delete(old, true);
            else
            {
                Directory.Move(old, dir);
                done.Add($"restored {dir} from {Path.GetFileName(old)} (a checkpoint swap was interrupted)");
            }
        }
        var temp = dir + ".tmp";
        if (Directory.Exists(temp))
        {
            Directory.Delete(temp, true);
            done.Add($"removed the partial checkpoint {temp}");
        }
        return done;
    }

    /// <summary>Reads a checkpoint into the model and optimizer; anything missing, corrupt or not matching this model and config is a <see cref="UserError"/>.</summary>
    public static TrainingPosition Load(string dir, TrainingModel model, AdamW optimizer, string configHash)
    {
        if (!Directory.Exists(dir)) throw new UserError($"{dir}: no checkpoint to resume from");
        var positionPath = Path.Combine(dir, PositionFile);
        const string fix = "restore it, or delete the checkpoint folder to train the run again from the beginning";
        if (!File.Exists(positionPath)) throw new UserError($"{dir}: incomplete checkpoint ({PositionFile} missing): {fix}");
        TrainingPosition position;
        try
        {
            position = JsonSerializer.Deserialize<TrainingPosition>(File.ReadAllText(positionPath), Json.Line)
                ?? throw new UserError($"{positionPath}: empty: {fix}");
        }
        catch (JsonException e)
        {
            throw new UserError($"{positionPath}: corrupt checkpoint position ({e.Message}): {fix}", e);
        }
        if (position.Epoch < 0 || position.NextBatch < 0 || position.OptimizerSteps < 0 || position.ConfigHash is null)
            throw new UserError($"{positionPath}: impossible position (epoch {position.Epoch}, next_batch {position.NextBatch}, optimizer_steps {position.OptimizerSteps}): {fix}");
        if (position.ConfigHash != configHash)
            throw new UserError($"{dir}: checkpoint was written for config {position.ConfigHash}, but the run's config.yaml is {configHash} (the config was edited after the run started)");

        var modelPath = Path.Combine(dir, ModelFile);
        if (model.Module is LanguageModel languageModel) StateDictIO.Load(languageModel, modelPath);
        else LoadStateDict(model.Module, modelPath);

        var optimizerPath = Path.Combine(dir, OptimizerFile);
        var optimizerTensors = SafeTensors.Load(optimizerPath);
        if (!SafeTensors.LoadMetadata(optimizerPath).TryGetValue("steps", out var stepsText) || !long.TryParse(stepsText, out var steps))
            throw new UserError($"{optimizerPath}: no optimizer step count in its metadata");
        if (steps != position.OptimizerSteps) throw new UserError($"{dir}: optimizer step count {steps} disagrees with {PositionFile} ({position.OptimizerSteps})");
        optimizer.LoadState(steps, optimizerTensors, optimizerPath);
        foreach (var t in optimizerTensors.Values) t.Dispose();
        return position;
    }

    private static void LoadStateDict(nn.Module module, string modelPath)
    {
        var tensors = SafeTensors.Load(modelPath);
        var state = module.state_dict();
        foreach (var name in tensors.Keys)
            if (!state.ContainsKey(name)) throw new UserError($"{modelPath}: tensor '{name}' is not a parameter of this model");
        using (torch.no_grad())
        {
            foreach (var (name, target) in state)
            {
                if (!tensors.TryGetValue(name, out var saved)) throw new UserError($"{modelPath}: parameter '{name}' missing");
                if (!saved.shape.SequenceEqual(target.shape) || saved.dtype != target.dtype)
                    throw new UserError($"{modelPath}: '{name}' is {saved.dtype}[{string.Join(",", saved.shape)}], the model has {target.dtype}[{string.Join(",", target.shape)}]");
                target.copy_(saved);
            }
        }
        foreach (var t in tensors.Values) t.Dispose();
    }
}
