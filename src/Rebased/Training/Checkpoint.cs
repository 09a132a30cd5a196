using System.Text.Json;
using System.Text.Json.Serialization;
using Rebased.IO;
using Rebased.Models;
using TorchSharp;
using static TorchSharp.torch;

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
        if (Directory.Exists(temp)) Directory.Delete(temp, true);
        Directory.CreateDirectory(temp);
        if (model.Module is LanguageModel languageModel) StateDictIO.Save(languageModel, Path.Combine(temp, ModelFile));
        else SafeTensors.Save(Path.Combine(temp, ModelFile), model.Module.state_dict(), new Dictionary<string, string> { ["format"] = "pt" });
        SafeTensors.Save(Path.Combine(temp, OptimizerFile), optimizer.StateTensors(),
            new Dictionary<string, string> { ["steps"] = optimizer.Steps.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        File.WriteAllText(Path.Combine(temp, PositionFile), JsonSerializer.Serialize(position, Json.Indented));
        var old = dir + ".old";
        if (Directory.Exists(old)) Directory.Delete(old, true);
        if (Directory.Exists(dir)) Directory.Move(dir, old);
        Directory.Move(temp, dir);
        if (Directory.Exists(old)) Directory.Delete(old, true);
    }

    public static void Copy(string from, string to)
    {
        var temp = to + ".tmp";
        if (Directory.Exists(temp)) Directory.Delete(temp, true);
        Directory.CreateDirectory(temp);
        foreach (var file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(temp, Path.GetFileName(file)));
        if (Directory.Exists(to)) Directory.Delete(to, true);
        Directory.Move(temp, to);
    }

    /// <summary>Reads a checkpoint into the model and optimizer; anything missing, corrupt or not matching this model and config is a <see cref="UserError"/>.</summary>
    public static TrainingPosition Load(string dir, TrainingModel model, AdamW optimizer, string configHash)
    {
        if (!Directory.Exists(dir)) throw new UserError($"{dir}: no checkpoint to resume from");
        var positionPath = Path.Combine(dir, PositionFile);
        if (!File.Exists(positionPath)) throw new UserError($"{dir}: incomplete checkpoint ({PositionFile} missing)");
        TrainingPosition position;
        try
        {
            position = JsonSerializer.Deserialize<TrainingPosition>(File.ReadAllText(positionPath), Json.Line)
                ?? throw new UserError($"{positionPath}: empty");
        }
        catch (JsonException e)
        {
            throw new UserError($"{positionPath}: corrupt checkpoint position ({e.Message})", e);
        }
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
