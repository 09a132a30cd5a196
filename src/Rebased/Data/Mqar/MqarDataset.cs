using System.Numerics;

namespace Rebased.Data.Mqar;

/// <summary>
/// An MQAR set held compactly: the input tokens in the narrowest type that fits the vocabulary and, per row, a
/// bit mask of the K supervised positions. Labels are not stored: the target at a supervised position is the
/// value that follows its (query) key in the row's context, so they are rebuilt exactly when needed.
/// </summary>
public sealed class MqarDataset : ITaskSet
{
    /// <summary>The ignore index of the labels (as in the reference and PyTorch's cross-entropy).</summary>
    public const long IgnoreIndex = -100;

    private readonly TokenStore _tokens;
    private readonly ulong[] _supervised;

    internal MqarDataset(MqarArgs args, MqarMode mode, TokenStore tokens, ulong[] supervised)
    {
        if (tokens.Length != args.TokenCount) throw new ArgumentException("token count does not match the arguments");
        if (supervised.LongLength != (long)args.NumExamples * MaskWordsFor(args.SeqLen))
            throw new ArgumentException("supervised mask size does not match the arguments");
        Args = args;
        Mode = mode;
        _tokens = tokens;
        _supervised = supervised;
    }

    public MqarArgs Args { get; }
    public MqarMode Mode { get; }
    public int Count => Args.NumExamples;
    public int SeqLen => Args.SeqLen;
    public int NumKvPairs => Args.NumKvPairs;
    public int VocabSize => Args.VocabSize;

    /// <summary>Bytes per stored token (1, 2 or 4).</summary>
    public int TokenBytes => _tokens.ElementSize;

    /// <summary>Bytes this set keeps in memory (tokens and supervised masks).</summary>
    public long ResidentBytes => _tokens.ByteLength + _supervised.LongLength * sizeof(ulong);

    internal TokenStore Tokens => _tokens;
    internal ulong[] SupervisedMask => _supervised;
    internal int MaskWordsPerRow => MaskWordsFor(SeqLen);
    internal static int MaskWordsFor(int seqLen) => (seqLen + 63) / 64;

    public int Token(int row, int position) => _tokens[RowOffset(row) + position];

    /// <summary>The input tokens of one row.</summary>
    public void CopyInputs<T>(int row, Span<T> destination) where T : unmanaged, IBinaryInteger<T>
    {
        CheckRowSpan(row, destination.Length, SeqLen);
        _tokens.Read(RowOffset(row), destination);
    }

    /// <summary>The K supervised positions of a row, ascending.</summary>
    public void SupervisedPositions(int row, Span<int> positions)
    {
        CheckRowSpan(row, positions.Length, NumKvPairs);
        int words = MaskWordsPerRow, count = 0;
        var mask = _supervised.AsSpan(row * words, words);
        for (int w = 0; w < words; w++)
            for (ulong bits = mask[w]; bits != 0; bits &= bits - 1)
            {
                if (count == positions.Length) throw new InvalidDataException($"row {row} has more than {NumKvPairs} supervised positions");
                positions[count++] = w * 64 + BitOperations.TrailingZeroCount(bits);
            }
        if (count != positions.Length) throw new InvalidDataException($"row {row} has {count} supervised positions, not {NumKvPairs}");
    }

    /// <summary>The labels of one row: −100 except the K targets.</summary>
    public void CopyLabels(int row, Span<long> destination)
    {
        CheckRowSpan(row, destination.Length, SeqLen);
        int k = NumKvPairs;
        var rowTokens = new int[SeqLen];
        var positions = new int[k];
        var targets = new int[k];
        CopyInputs<int>(row, rowTokens);
        SupervisedPositions(row, positions);
        TargetsOf<int, int>(rowTokens, k, positions, targets, new int[ValueOfKeyLength]);
        destination.Fill(IgnoreIndex);
        for (int t = 0; t < k; t++) destination[positions[t]] = targets[t];
    }

    public ITaskBatches Batches(int batchSize, bool shuffle, long seed, Device device) => new MqarBatches(this, batchSize, shuffle, seed, device);

    public string Describe(int row) => MqarPreview.Describe(this, row);

    /// <summary>Dense int64 tensors [N, L] on the CPU, as the reference returns them: inputs, and labels −100 except the K targets.</summary>
    public (Tensor Inputs, Tensor Labels) ToTensors()
    {
        var inputs = empty(Count, SeqLen, ScalarType.Int64);
        var labels = empty(Count, SeqLen, ScalarType.Int64);
        var inputMemory = CpuTensorMemory.Of<long>(inputs);
        var labelMemory = CpuTensorMemory.Of<long>(labels);
        Parallel.For(0, (Count + RowsPerTask - 1) / RowsPerTask, () => new RowScratch(this), (task, _, scratch) =>
        {
            int end = Math.Min(Count, (task + 1) * RowsPerTask);
            for (int row = task * RowsPerTask; row < end; row++)
            {
                var input = inputMemory.Row(row, SeqLen);
                CopyInputs(row, input);
                SupervisedPositions(row, scratch.Positions);
                TargetsOf<long, int>(input, NumKvPairs, scratch.Positions, scratch.Targets, scratch.ValueOfKey);
                var label = labelMemory.Row(row, SeqLen);
                label.Fill(IgnoreIndex);
                for (int t = 0; t < NumKvPairs; t++) label[scratch.Positions[t]] = scratch.Targets[t];
            }
            return scratch;
        }, _ => { });
        return (inputs, labels);
    }

    internal const int RowsPerTask = 64;

    internal int ValueOfKeyLength => Args.ValueVocabStart;

    /// <summary>
    /// Targets at the given positions of a row: the value that follows the queried key in the context
    /// (keys are distinct within a row). <paramref name="valueOfKey"/> is scratch of length V/2.
    /// </summary>
    internal static void TargetsOf<TRow, TTarget>(ReadOnlySpan<TRow> row, int numKvPairs, ReadOnlySpan<int> positions, Span<TTarget> targets, Span<int> valueOfKey)
        where TRow : unmanaged, IBinaryInteger<TRow> where TTarget : unmanaged, IBinaryInteger<TTarget>
    {
        for (int j = 0; j < numKvPairs; j++) valueOfKey[int.CreateTruncating(row[2 * j])] = int.CreateTruncating(row[2 * j + 1]);
        for (int t = 0; t < positions.Length; t++) targets[t] = TTarget.CreateTruncating(valueOfKey[int.CreateTruncating(row[positions[t]])]);
    }

    internal sealed class RowScratch(MqarDataset data)
    {
        public readonly int[] Positions = new int[data.NumKvPairs];
        public readonly int[] Targets = new int[data.NumKvPairs];
        public readonly int[] ValueOfKey = new int[data.ValueOfKeyLength];
    }

    private int RowOffset(int row) => row * SeqLen;

    private void CheckRowSpan(int row, int length, int expected)
    {
        if ((uint)row >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(row), $"row {row} is outside [0, {Count})");
        if (length != expected) throw new ArgumentException($"expected a span of {expected}, got {length}");
    }
}
