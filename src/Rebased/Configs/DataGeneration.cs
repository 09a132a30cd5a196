using Rebased.Data;

namespace Rebased.Configs;

/// <summary>
/// The values of <c>data.mode</c>: "numpy_compatible" reproduces the reference generator's numpy stream, "fast"
/// draws from the same distribution faster, "auto" leaves the choice to the task (numpy_compatible where the
/// reference's algorithm is fast enough, fast beyond).
/// </summary>
public static class DataGeneration
{
    public const string Auto = "auto";
    public const string Fast = "fast";
    public const string NumpyCompatible = "numpy_compatible";

    public static readonly string[] Values = { Auto, Fast, NumpyCompatible };

    public static DataMode Mode(string value) => value switch
    {
        Fast => DataMode.Fast,
        NumpyCompatible => DataMode.NumpyCompatible,
        _ => DataMode.Auto,
    };
}

/// <summary>The data section of a run config as the task seam (<see cref="IDataTask"/>) takes it.</summary>
public static class DataTaskConfig
{
    /// <summary>The task data.builder.name selects.</summary>
    public static IDataTask Task(this DataConfig data) => DataTasks.Find(data.Builder.Name)
        ?? throw new UserError($"data.builder.name: unknown data builder '{data.Builder.Name}' (known: {string.Join(", ", DataTasks.BuilderNames)})");

    public static RunDataRequest Request(this DataConfig data) =>
        new(data.VocabSize, data.InputSeqLen, data.NumTrainExamples, data.NumTestExamples, data.Seed, data.Builder.Kwargs, DataGeneration.Mode(data.Mode));
}
