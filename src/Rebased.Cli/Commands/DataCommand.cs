using System.ComponentModel;
using System.Globalization;
using System.Text;
using Rebased.Data;
using Rebased.IO;
using Rebased.Native;
using Spectre.Console.Cli;

namespace Rebased.Cli.Commands;

/// <summary><c>rebased data mqar</c>: generate an MQAR set, write it as safetensors and/or print examples.</summary>
public sealed class DataMqarCommand : Command<DataMqarCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--vocab <V>", isRequired: true)]
        [OptionRange(3)]
        [Description("Vocabulary size V (keys 1…V/2−1, values V/2…V−1); must exceed the sequence length.")]
        public int Vocab { get; init; }

        [CommandOption("--seq-len <L>", isRequired: true)]
        [OptionRange(2)]
        [Description("Sequence length L (even).")]
        public int SeqLen { get; init; }

        [CommandOption("--kv-pairs <K>", isRequired: true)]
        [OptionRange(1)]
        [Description("Key-value pairs per example K (4K ≤ L).")]
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
        [Description("Replace filler zeros by uniform random ids in [[0, V).")]
        public bool RandomNonQueries { get; init; }

        [CommandOption("--numpy-compatible")]
        [Description("Reproduce the reference's numpy draws bit for bit (sequential); default is the parallel fast mode.")]
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
            return Spectre.Console.ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellation)
    {
        var args = new MqarArgs(settings.Vocab, settings.Examples, settings.SeqLen, settings.KvPairs, settings.PowerA, settings.RandomNonQueries, settings.Seed);
        var mode = settings.NumpyCompatible ? MqarMode.NumpyCompatible : MqarMode.Fast;
        args.Validate(mode);
        TorchRuntime.EnsureLoaded();
        var data = MqarGenerator.Generate(args, mode);
        if (settings.Preview is { } preview)
            for (int row = 0; row < Math.Min(preview, data.Count); row++) Console.Write(Describe(data, row));
        if (settings.Out is { } path)
        {
            var (inputs, labels) = data.ToTensors();
            using (inputs)
            using (labels)
                SafeTensors.Save(path, new Dictionary<string, TorchSharp.torch.Tensor> { ["inputs"] = inputs, ["labels"] = labels }, Metadata(args, mode));
            Console.Error.WriteLine($"wrote {path}: inputs, labels int64 [{data.Count}, {data.SeqLen}] (generator {MqarGenerator.Version(mode)})");
        }
        return ExitCodes.Ok;
    }

    private static Dictionary<string, string> Metadata(MqarArgs args, MqarMode mode) => new()
    {
        ["generator"] = "mqar",
        ["generator_version"] = MqarGenerator.Version(mode),
        ["mode"] = mode == MqarMode.NumpyCompatible ? "numpy-compatible" : "fast",
        ["vocab_size"] = args.VocabSize.ToString(CultureInfo.InvariantCulture),
        ["num_examples"] = args.NumExamples.ToString(CultureInfo.InvariantCulture),
        ["input_seq_len"] = args.SeqLen.ToString(CultureInfo.InvariantCulture),
        ["num_kv_pairs"] = args.NumKvPairs.ToString(CultureInfo.InvariantCulture),
        ["power_a"] = args.PowerA.ToString("R", CultureInfo.InvariantCulture),
        ["random_non_queries"] = args.RandomNonQueries ? "true" : "false",
        ["seed"] = args.Seed.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>
    /// One example in a readable form: the key→value pairs, each query as "position: key → target", and the
    /// input row with queries in brackets and runs of filler zeros folded as 0×n.
    /// </summary>
    public static string Describe(MqarDataset data, int row)
    {
        int seqLen = data.SeqLen, k = data.NumKvPairs;
        var inputs = new long[seqLen];
        var labels = new long[seqLen];
        data.CopyInputs(row, inputs.AsSpan());
        data.CopyLabels(row, labels);
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"example {row}  (V={data.VocabSize}, L={seqLen}, K={k}; {k} queries)");
        text.Append("  pairs  :");
        for (int j = 0; j < k; j++) text.Append(CultureInfo.InvariantCulture, $" {inputs[2 * j]}→{inputs[2 * j + 1]}");
        text.AppendLine();
        text.Append("  queries:");
        for (int p = 0; p < seqLen; p++)
            if (labels[p] != MqarDataset.IgnoreIndex) text.Append(CultureInfo.InvariantCulture, $" @{p}:{inputs[p]}→{labels[p]}");
        text.AppendLine();
        text.Append("  inputs :");
        for (int p = 0; p < seqLen; p++)
        {
            if (inputs[p] == 0 && labels[p] == MqarDataset.IgnoreIndex)
            {
                int end = p;
                while (end + 1 < seqLen && inputs[end + 1] == 0 && labels[end + 1] == MqarDataset.IgnoreIndex) end++;
                text.Append(end > p ? string.Create(CultureInfo.InvariantCulture, $" 0×{end - p + 1}") : " 0");
                p = end;
            }
            else if (labels[p] != MqarDataset.IgnoreIndex) text.Append(CultureInfo.InvariantCulture, $" [{inputs[p]}]");
            else text.Append(CultureInfo.InvariantCulture, $" {inputs[p]}");
        }
        text.AppendLine();
        return text.ToString();
    }
}
