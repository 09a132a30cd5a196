using System.Globalization;
using Rebased.Data;
using Rebased.IO;
using Rebased.Native;

namespace Rebased.Cli.Commands;

/// <summary>
/// <c>rebased data TASK</c>: generate one set of a registered task (<see cref="DataTasks"/>), write it as
/// safetensors and/or print examples. Program.cs adds one subcommand per task, carrying the task as its data.
/// </summary>
public sealed class DataCommand : Command<DataCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--vocab <V>", isRequired: true)]
        [OptionRange(3)]
        [Description("Vocabulary size V (MQAR: keys 1…V/2−1, values V/2…V−1); must exceed the sequence length.")]
        public int Vocab { get; init; }

        [CommandOption("--seq-len <L>", isRequired: true)]
        [OptionRange(2)]
        [Description("Sequence length L (even).")]
        public int SeqLen { get; init; }

        [CommandOption("--kv-pairs <K>", isRequired: true)]
        [OptionRange(1)]
        [Description("Key-value pairs per example K (MQAR: 4K ≤ L).")]
        public int KvPairs { get; init; }

        [CommandOption("--examples <N>", isRequired: true)]
        [OptionRange(1)]
        [Description("Number of examples N.")]
        public int Examples { get; init; }

        [CommandOption("--seed <S>", isRequired: true)]
        [Description("Seed (the reference's test set uses train seed + 10).")]
        public long Seed { get; init; }

        [CommandOption("--power-a <A>")]
        [Description("Power-law exponent of the query slots, > 0 (default 0.01; 1 = uniform).")]
        [DefaultValue(0.01)]
        public double PowerA { get; init; } = 0.01;

        [CommandOption("--random-non-queries")]
        [Description("Replace filler zeros by uniform random ids in [[0, V) (without it, the task's default: off for MQAR).")]
        public bool RandomNonQueries { get; init; }

        [CommandOption("--arg <NAME=VALUE>")]
        [Description("Another argument of the task's generator (repeatable), e.g. --arg num_updates=2 or --arg random_non_queries=false.")]
        public string[] Arguments { get; init; } = [];

        [CommandOption("--numpy-compatible")]
        [Description("Reproduce the reference's numpy draws bit for bit (sequential); default is the parallel fast mode where the task has one.")]
        public bool NumpyCompatible { get; init; }

        [CommandOption("--out <FILE>")]
        [Description("Write tensors 'inputs' and 'labels' (int64 [[N, L]]) to this safetensors file.")]
        public string? Out { get; init; }

        [CommandOption("--preview <N>")]
        [OptionRange(0)]
        [Description("Print the first N examples (keys, values, queries and targets marked).")]
        public int? Preview { get; init; }

        public override Spectre.Console.ValidationResult Validate()
        {
            if (Out is null && Preview is null) return Spectre.Console.ValidationResult.Error("give --out FILE, --preview N, or both");
            if (Arguments.FirstOrDefault(a => a.IndexOf('=') <= 0) is { } bad)
                return Spectre.Console.ValidationResult.Error($"--arg '{bad}': expected NAME=VALUE, e.g. --arg num_updates=2");
            return Spectre.Console.ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellation)
    {
        var task = (IDataTask)context.Data!;
        var kwargs = new Dictionary<string, object?> { ["num_kv_pairs"] = settings.KvPairs, ["power_a"] = settings.PowerA };
        if (settings.RandomNonQueries) kwargs["random_non_queries"] = true;
        foreach (var argument in settings.Arguments)
        {
            int eq = argument.IndexOf('=');
            kwargs[argument[..eq].Trim()] = ArgumentValue(argument[(eq + 1)..].Trim());
        }
        var mode = settings.NumpyCompatible || !task.HasFastGenerator ? DataMode.NumpyCompatible : DataMode.Fast;
        var spec = task.Set(new SetRequest(settings.Vocab, settings.Examples, settings.SeqLen, settings.Seed, kwargs, mode));
        TorchRuntime.EnsureLoaded();
        var data = spec.Generate();
        if (settings.Preview is { } preview)
            for (int row = 0; row < Math.Min(preview, data.Count); row++) Console.Write(data.Describe(row));
        if (settings.Out is { } path)
        {
            var (inputs, labels) = data.ToTensors();
            using (inputs)
            using (labels)
                SafeTensors.Save(path, new Dictionary<string, TorchSharp.torch.Tensor> { ["inputs"] = inputs, ["labels"] = labels }, spec.Metadata);
            Console.Error.WriteLine($"wrote {path}: inputs, labels int64 [{data.Count}, {data.SeqLen}] (generator {spec.Metadata["generator_version"]})");
        }
        return ExitCodes.Ok;
    }

    /// <summary>A --arg value typed as a YAML scalar would be: true/false, an integer, a number, else text.</summary>
    private static object ArgumentValue(string text) =>
        bool.TryParse(text, out var b) ? b
        : int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var i) ? i
        : double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d
        : text;
}
