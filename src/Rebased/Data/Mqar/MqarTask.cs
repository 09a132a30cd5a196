using System.Globalization;

namespace Rebased.Data.Mqar;

/// <summary>
/// The reference's <c>multiquery_ar</c> builder: train set from the seed, test set from seed + 10, with
/// train_power_a and test_power_a as the query-slot exponents. data.mode auto uses the numpy-compatible generator
/// up to L = 512 (the reference's sets of simple_mqar and Figure 1 up to there come out identical) and the fast
/// one above, where the reference's sequential weighted draws, whose cost per row grows as K·L, become slow.
/// </summary>
public sealed class MqarTask : IDataTask
{
    public const int NumpyCompatibleMaxSeqLen = 512;
    private const int DefaultKvPairs = 8;
    private const double DefaultPowerA = 0.01;

    public IReadOnlyList<string> BuilderNames { get; } = ["multiquery_ar", "src.data.associative_recall.multiquery_ar"];
    public string CommandName => "mqar";
    public string Summary => "Generate an MQAR set (the reference's _mqar) and write it as safetensors or preview it.";
    public bool HasFastGenerator => true;

    public TaskKwargs Kwargs { get; } = new("MQAR",
        new("num_kv_pairs", KwargKind.PositiveInteger), new("train_power_a", KwargKind.PositiveNumber),
        new("test_power_a", KwargKind.PositiveNumber), new("random_non_queries", KwargKind.Boolean));

    private static readonly TaskKwargs GeneratorArguments = new("MQAR",
        new("num_kv_pairs", KwargKind.PositiveInteger), new("power_a", KwargKind.PositiveNumber), new("random_non_queries", KwargKind.Boolean));

    /// <summary>The reference's update_sequence_mixer: K = 16 at L = 128, else L/4.</summary>
    public void ApplySequenceLengthRule(IDictionary<string, object?> kwargs, int seqLen) =>
        kwargs["num_kv_pairs"] = seqLen == 128 ? 16 : seqLen / 4;

    public TaskSplits Splits(RunDataRequest request)
    {
        var kwargs = request.Kwargs;
        Kwargs.Check(kwargs);
        int k = Kwargs.Integer(kwargs, "num_kv_pairs", DefaultKvPairs);
        if (4L * k > request.SeqLen)
            throw new UserError($"data.builder.kwargs.num_kv_pairs: 4·K = {4L * k} exceeds data.input_seq_len {request.SeqLen} (the keys, values and their queries must fit)");
        if (request.VocabSize / 2 - 1 < k)
            throw new UserError($"data.vocab_size: {request.VocabSize} leaves fewer than {k} distinct keys");
        var mode = Resolve(request.Mode, request.SeqLen);
        var train = new MqarArgs(request.VocabSize, request.NumTrainExamples, request.SeqLen, k,
            Kwargs.Number(kwargs, "train_power_a", DefaultPowerA), Kwargs.Boolean(kwargs, "random_non_queries", false), request.Seed);
        var test = train.TestSet(request.NumTestExamples, Kwargs.Number(kwargs, "test_power_a", DefaultPowerA));
        return new TaskSplits(new MqarSetSpec(train, mode), new MqarSetSpec(test, mode));
    }

    public ITaskSetSpec Set(SetRequest request)
    {
        GeneratorArguments.CheckArguments(request.Kwargs);
        var args = new MqarArgs(request.VocabSize, request.NumExamples, request.SeqLen,
            GeneratorArguments.Integer(request.Kwargs, "num_kv_pairs", DefaultKvPairs), GeneratorArguments.Number(request.Kwargs, "power_a", DefaultPowerA),
            GeneratorArguments.Boolean(request.Kwargs, "random_non_queries", false), request.Seed);
        return new MqarSetSpec(args, Resolve(request.Mode, request.SeqLen));
    }

    private static MqarMode Resolve(DataMode mode, int seqLen) => mode switch
    {
        DataMode.Fast => MqarMode.Fast,
        DataMode.NumpyCompatible => MqarMode.NumpyCompatible,
        _ => seqLen <= NumpyCompatibleMaxSeqLen ? MqarMode.NumpyCompatible : MqarMode.Fast,
    };

    private sealed class MqarSetSpec : ITaskSetSpec
    {
        private readonly MqarArgs _args;
        private readonly MqarMode _mode;

        public MqarSetSpec(MqarArgs args, MqarMode mode)
        {
            args.Validate(mode);
            _args = args;
            _mode = mode;
        }

        public string Generator => _mode.ToString();
        public string Shape => string.Create(CultureInfo.InvariantCulture, $"K = {_args.NumKvPairs}");

        public IReadOnlyDictionary<string, string> Metadata => new Dictionary<string, string>
        {
            ["generator"] = "mqar",
            ["generator_version"] = MqarGenerator.Version(_mode),
            ["mode"] = _mode == MqarMode.NumpyCompatible ? "numpy-compatible" : "fast",
            ["vocab_size"] = _args.VocabSize.ToString(CultureInfo.InvariantCulture),
            ["num_examples"] = _args.NumExamples.ToString(CultureInfo.InvariantCulture),
            ["input_seq_len"] = _args.SeqLen.ToString(CultureInfo.InvariantCulture),
            ["num_kv_pairs"] = _args.NumKvPairs.ToString(CultureInfo.InvariantCulture),
            ["power_a"] = _args.PowerA.ToString("R", CultureInfo.InvariantCulture),
            ["random_non_queries"] = _args.RandomNonQueries ? "true" : "false",
            ["seed"] = _args.Seed.ToString(CultureInfo.InvariantCulture),
        };

        public ITaskSet Generate() => MqarGenerator.Generate(_args, _mode);

        public ITaskSet LoadOrGenerate(string? cacheDir, bool refresh)
        {
            if (refresh) File.Delete(MqarCache.PathFor(_args, _mode, cacheDir));
            return MqarCache.LoadOrGenerate(_args, _mode, cacheDir);
        }
    }
}
