using System.Globalization;
using System.Numerics;
using System.Text;

namespace Rebased.Data;

/// <summary>
/// A set whose every row supervises the same number of positions, stored as the input tokens (narrowest type
/// that holds the vocabulary) and, per row, the supervised positions (ascending) with their target tokens. The
/// shared dataset of tasks whose targets are not cheap to rebuild from the row (as MQAR's are).
/// </summary>
public sealed class QuerySet : ITaskSet
{
    public const long IgnoreIndex = -100;

    private readonly TokenStore _tokens;
    private readonly int[] _positions;
    private readonly int[] _targets;

    /// <summary>Takes rows with their queries in any order; each row's (position, target) pairs are sorted by position.</summary>
    internal QuerySet(int vocabSize, int seqLen, int queriesPerRow, TokenStore tokens, int[] positions, int[] targets)
    {
        if (tokens.Length % seqLen != 0) throw new ArgumentException("token count is not a multiple of the sequence length");
        int count = tokens.Length / seqLen;
        if (positions.Length != (long)count * queriesPerRow || targets.Length != positions.Length)
            throw new ArgumentException("positions and targets must hold queriesPerRow entries per row");
        for (int row = 0; row < count; row++)
        {
            var rowPositions = positions.AsSpan(row * queriesPerRow, queriesPerRow);
            rowPositions.Sort(targets.AsSpan(row * queriesPerRow, queriesPerRow));
            for (int q = 0; q < queriesPerRow; q++)
                if ((uint)rowPositions[q] >= (uint)seqLen || (q > 0 && rowPositions[q] == rowPositions[q - 1]))
                    throw new ArgumentException($"row {row}: supervised positions must be distinct and inside [0, {seqLen})");
        }
        VocabSize = vocabSize;
        SeqLen = seqLen;
        QueriesPerRow = queriesPerRow;
        Count = count;
        _tokens = tokens;
        _positions = positions;
        _targets = targets;
    }

    public int Count { get; }
    public int SeqLen { get; }
    public int VocabSize { get; }
    public int QueriesPerRow { get; }

    internal TokenStore Tokens => _tokens;
    internal int[] AllPositions => _positions;
    internal int[] AllTargets => _targets;

    public int Token(int row, int position) => _tokens[CheckedRow(row) * SeqLen + position];

    public void CopyInputs<T>(int row, Span<T> destination) where T : unmanaged, IBinaryInteger<T>
    {
        if (destination.Length != SeqLen) throw new ArgumentException($"expected a span of {SeqLen}, got {destination.Length}");
        _tokens.Read(CheckedRow(row) * SeqLen, destination);
    }

    /// <summary>The supervised positions of a row, ascending.</summary>
    public ReadOnlySpan<int> Positions(int row) => _positions.AsSpan(CheckedRow(row) * QueriesPerRow, QueriesPerRow);

    /// <summary>The targets at <see cref="Positions"/>, in the same order.</summary>
    public ReadOnlySpan<int> Targets(int row) => _targets.AsSpan(CheckedRow(row) * QueriesPerRow, QueriesPerRow);

    public (Tensor Inputs, Tensor Labels) ToTensors()
    {
        var inputs = empty(Count, SeqLen, ScalarType.Int64);
        var labels = empty(Count, SeqLen, ScalarType.Int64);
        var inputMemory = CpuTensorMemory.Of<long>(inputs);
        var labelMemory = CpuTensorMemory.Of<long>(labels);
        for (int row = 0; row < Count; row++)
        {
            CopyInputs(row, inputMemory.Row(row, SeqLen));
            var label = labelMemory.Row(row, SeqLen);
            label.Fill(IgnoreIndex);
            var positions = Positions(row);
            var targets = Targets(row);
            for (int q = 0; q < positions.Length; q++) label[positions[q]] = targets[q];
        }
        return (inputs, labels);
    }

    public ITaskBatches Batches(int batchSize, bool shuffle, long seed, Device device) => new QuerySetBatches(this, batchSize, shuffle, seed, device);

    /// <summary>The row with each supervised position as [token→target] and runs of filler zeros folded as 0×n.</summary>
    public string Describe(int row)
    {
        var inputs = new int[SeqLen];
        CopyInputs<int>(row, inputs);
        var targetAt = new Dictionary<int, int>();
        var positions = Positions(row);
        var targets = Targets(row);
        for (int q = 0; q < positions.Length; q++) targetAt[positions[q]] = targets[q];
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"example {row}  (V={VocabSize}, L={SeqLen}; {QueriesPerRow} queries)");
        text.Append("  inputs :");
        for (int p = 0; p < SeqLen; p++)
        {
            if (targetAt.TryGetValue(p, out var target))
            {
                text.Append(CultureInfo.InvariantCulture, $" [{inputs[p]}→{target}]");
                continue;
            }
            if (inputs[p] == 0)
            {
                int end = p;
                while (end + 1 < SeqLen && inputs[end + 1] == 0 && !targetAt.ContainsKey(end + 1)) end++;
                text.Append(end > p ? string.Create(CultureInfo.InvariantCulture, $" 0×{end - p + 1}") : " 0");
                p = end;
                continue;
            }
            text.Append(CultureInfo.InvariantCulture, $" {inputs[p]}");
        }
        text.AppendLine();
        return text.ToString();
    }

    private int CheckedRow(int row) =>
        (uint)row < (uint)Count ? row : throw new ArgumentOutOfRangeException(nameof(row), $"row {row} is outside [0, {Count})");
}

/// <summary>Batches of a <see cref="QuerySet"/>: built on the CPU, then moved to the device.</summary>
public sealed class QuerySetBatches : ITaskBatches
{
    private readonly QuerySet _data;
    private readonly int _batchSize;
    private readonly bool _shuffle;
    private readonly long _seed;
    private readonly Device _device;
    private readonly object _orderGate = new();
    private int _orderEpoch = -1;
    private int[] _order = [];

    public QuerySetBatches(QuerySet data, int batchSize, bool shuffle, long seed, Device device)
    {
        if (batchSize < 1) throw new UserError($"batch size must be at least 1, got {batchSize}");
        (_data, _batchSize, _shuffle, _seed, _device) = (data, batchSize, shuffle, seed, device);
    }

    public int BatchesPerEpoch => (_data.Count + _batchSize - 1) / _batchSize;

    public TaskBatch Batch(int epoch, int index)
    {
        if ((uint)index >= (uint)BatchesPerEpoch) throw new ArgumentOutOfRangeException(nameof(index), $"batch {index} is outside [0, {BatchesPerEpoch})");
        int[] order;
        lock (_orderGate)
        {
            if (_orderEpoch != epoch)
            {
                _order = EpochOrder.Of(_data.Count, _shuffle, _seed, epoch);
                _orderEpoch = epoch;
            }
            order = _order;
        }
        int start = index * _batchSize, b = Math.Min(_batchSize, _data.Count - start), seqLen = _data.SeqLen, q = _data.QueriesPerRow;
        var inputs = empty(b, seqLen, ScalarType.Int64);
        var supervised = empty(b * q, ScalarType.Int64);
        var targets = empty(b * q, ScalarType.Int64);
        var inputMemory = CpuTensorMemory.Of<long>(inputs);
        var supervisedMemory = CpuTensorMemory.Of<long>(supervised);
        var targetMemory = CpuTensorMemory.Of<long>(targets);
        for (int i = 0; i < b; i++)
        {
            int row = order[start + i];
            _data.CopyInputs(row, inputMemory.Row(i, seqLen));
            var positions = _data.Positions(row);
            var rowTargets = _data.Targets(row);
            var flatIndex = supervisedMemory.Row(i, q);
            var target = targetMemory.Row(i, q);
            for (int t = 0; t < q; t++)
            {
                flatIndex[t] = (long)i * seqLen + positions[t];
                target[t] = rowTargets[t];
            }
        }
        if (_device.type == TorchSharp.DeviceType.CPU) return new TaskBatch(inputs, supervised, targets);
        using (inputs)
        using (supervised)
        using (targets)
            return new TaskBatch(inputs.to(_device), supervised.to(_device), targets.to(_device));
    }

    public void Dispose() { }
}
