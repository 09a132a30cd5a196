using System.Globalization;
using Rebased.Configs;
using Rebased.Data;
using Rebased.Native;

namespace Rebased.Training;

/// <summary>
/// The memory a run needs, estimated from its config before anything is allocated, so that a model or batch that
/// cannot fit is refused with the sizes instead of failing inside libtorch's allocator. Deliberately simple and on
/// the low side (a refusal means the run certainly does not fit):
/// <list type="bullet">
/// <item>parameters: the token and position embeddings (padded vocabulary × d_model, max_position_embeddings ×
/// d_model) and one d_model × d_model projection per layer, the least any mixer has;</item>
/// <item>16 bytes per parameter: the fp32 weight, its gradient and AdamW's two moments;</item>
/// <item>activations: <see cref="SavedActivationsPerLayer"/> fp32 [micro-batch, L, d_model] tensors per layer kept for
/// the backward pass, plus the embeddings' output;</item>
/// <item>data: the train and test token ids, held in host memory on every device.</item>
/// </list>
/// </summary>
public sealed record MemoryEstimate(double Parameters, double ParameterBytes, double ActivationBytes, double DataBytes)
{
    public const int BytesPerParameter = 16;
    public const int SavedActivationsPerLayer = 8;

    public double DeviceBytes => ParameterBytes + ActivationBytes;

    public static MemoryEstimate For(RunConfig config)
    {
        var m = config.Model;
        var d = config.Data;
        double width = m.DModel;
        double vocab = Math.Ceiling((double)m.VocabSize / Math.Max(1, m.PadVocabSizeMultiple)) * Math.Max(1, m.PadVocabSizeMultiple);
        double parameters = (vocab + Math.Max(0, m.MaxPositionEmbeddings)) * width + (double)m.NLayers * width * width;
        double microBatch = Math.Min(d.BatchSize, d.NumTrainExamples);
        double activations = 4 * microBatch * d.InputSeqLen * width * (1 + SavedActivationsPerLayer * (double)m.NLayers);
        double data = ((double)d.NumTrainExamples + d.NumTestExamples) * d.InputSeqLen * TokenStore.ElementSizeFor(d.VocabSize);
        return new MemoryEstimate(parameters, BytesPerParameter * parameters, activations, data);
    }

    /// <summary>Throws a <see cref="UserError"/> naming the sizes when the estimate exceeds the memory available on the device (and in RAM for the data).</summary>
    public static void Check(RunConfig config, torch.Device device)
    {
        var estimate = For(config);
        double ram = AvailableRam();
        if (device.type == DeviceType.CUDA)
        {
            Refuse(estimate.DeviceBytes, CudaDriver.FreeMemory(device.index), $"free on {device}");
            Refuse(estimate.DataBytes, ram, "of RAM available for the data");
        }
        else Refuse(estimate.DeviceBytes + estimate.DataBytes, ram, "of RAM available");

        void Refuse(double needed, double available, string what)
        {
            if (needed <= available) return;
            throw new UserError(
                $"model.d_model {config.Model.DModel}, model.n_layers {config.Model.NLayers}, data.batch_size {config.Data.BatchSize}: the run needs at least {Size(needed)} " +
                FormattableString.Invariant($"({estimate.Parameters:G3} parameters x {BytesPerParameter} B for weights, gradients and AdamW moments: {Size(estimate.ParameterBytes)}; ") +
                $"activations of one micro-batch: {Size(estimate.ActivationBytes)}; data: {Size(estimate.DataBytes)}), more than the {Size(available)} {what}: " +
                "lower model.d_model, model.vocab_size, data.batch_size or data.num_train_examples");
        }
    }

    /// <summary>RAM this process can still use: the kernel's MemAvailable, or less under a container's limit.</summary>
    public static double AvailableRam()
    {
        double limit = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        const string meminfo = "/proc/meminfo";
        if (!File.Exists(meminfo)) return limit;
        var line = File.ReadLines(meminfo).FirstOrDefault(l => l.StartsWith("MemAvailable:", StringComparison.Ordinal));
        return line is not null && double.TryParse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var kib)
            ? Math.Min(limit, kib * 1024) : limit;
    }

    public static string Size(double bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        int unit = 0;
        while (bytes >= 1024 && unit < units.Length - 1) { bytes /= 1024; unit++; }
        return string.Create(CultureInfo.InvariantCulture, $"{bytes:0.#} {units[unit]}");
    }
}
