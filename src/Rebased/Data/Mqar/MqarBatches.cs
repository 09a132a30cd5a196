namespace Rebased.Data.Mqar;

/// <summary>
/// One training batch. <see cref="Inputs"/>, <see cref="Labels"/>: int64 [B, L] (labels −100 except the
/// targets); <see cref="SupervisedIndex"/>: int64 [B·K], flat indices into B·L of the supervised positions
/// (row-major, ascending); <see cref="Targets"/>: int64 [B·K], the target tokens at those positions.
/// </summary>
public sealed record MqarBatch(Tensor Inputs, Tensor Labels, Tensor SupervisedIndex, Tensor Targets) : IDisposable
{
    public int Size => (int)Inputs.shape[0];

    public void Dispose()
    {
        Inputs.Dispose();
        Labels.Dispose();
        SupervisedIndex.Dispose();
        Targets.Dispose();
    }
}

/// <summary>
/// Batches of an MQAR set in a per-epoch order drawn from (seed, epoch) alone, so a resumed run sees the same
/// order; the last, partial batch is included. On an accelerator the compact set (tokens in their narrow type,
/// supervised positions and targets) is copied to the device once and every batch is gathered and widened
/// there; on the CPU each batch is written straight into its output tensors.
/// </summary>
public sealed class MqarBatches : ITaskBatches
{
    private const int UploadRows = 4096;

    private readonly MqarDataset _data;
    private readonly ThreadLocal<MqarDataset.RowScratch> _scratch;
    private readonly object _orderGate = new();
    private int _orderEpoch = -1;
    private int[] _order = [];
    private readonly Tensor? _deviceTokens, _devicePositions, _deviceTargets;

    public MqarBatches(MqarDataset data, int batchSize, bool shuffle, long seed, Device device)
        : this(data, batchSize, shuffle, seed, device, keepOnDevice: device.type != TorchSharp.DeviceType.CPU) { }

    /// <summary><paramref name="keepOnDevice"/> chooses the device-resident path on any device (also the CPU, for tests).</summary>
    internal MqarBatches(MqarDataset data, int batchSize, bool shuffle, long seed, Device device, bool keepOnDevice)
    {
        if (batchSize < 1) throw new UserError($"MQAR batch size must be at least 1, got {batchSize}");
        _data = data;
        BatchSize = batchSize;
        Shuffle = shuffle;
        Seed = seed;
        Device = device;
        _scratch = new ThreadLocal<MqarDataset.RowScratch>(() => new MqarDataset.RowScratch(data));
        if (keepOnDevice) (_deviceTokens, _devicePositions, _deviceTargets) = Upload(data, device, _scratch.Value!);
    }

    public MqarDataset Data => _data;
    public int BatchSize { get; }
    public bool Shuffle { get; }
    public long Seed { get; }
    public Device Device { get; }
    public int BatchesPerEpoch => (_data.Count + BatchSize - 1) / BatchSize;

    /// <summary>Row order of an epoch: a Fisher–Yates shuffle from the stream (seed, epoch), or 0 … N−1 unshuffled.</summary>
    public int[] Order(int epoch) => EpochOrder.Of(_data.Count, Shuffle, Seed, epoch);

    public IEnumerable<MqarBatch> Epoch(int epoch)
    {
        for (int index = 0; index < BatchesPerEpoch; index++) yield return Batch(epoch, index);
    }

    public MqarBatch Batch(int epoch, int index)
    {
        if ((uint)index >= (uint)BatchesPerEpoch) throw new ArgumentOutOfRangeException(nameof(index), $"batch {index} is outside [0, {BatchesPerEpoch})");
        int[] order;
        lock (_orderGate)
        {
            if (_orderEpoch != epoch)
            {
                _order = Order(epoch);
                _orderEpoch = epoch;
            }
            order = _order;
        }
        int start = index * BatchSize;
        var rows = order.AsSpan(start, Math.Min(BatchSize, _data.Count - start));
        return _deviceTokens is null ? HostBatch(rows) : DeviceBatch(rows);
    }

    TaskBatch ITaskBatches.Batch(int epoch, int index)
    {
        var batch = Batch(epoch, index);
        batch.Labels.Dispose();
        return new TaskBatch(batch.Inputs, batch.SupervisedIndex, batch.Targets);
    }

    private MqarBatch HostBatch(ReadOnlySpan<int> rows)
    {
        int b = rows.Length, seqLen = _data.SeqLen, k = _data.NumKvPairs;
        var inputs = empty(b, seqLen, ScalarType.Int64);
        var labels = empty(b, seqLen, ScalarType.Int64);
        var supervised = empty(b * k, ScalarType.Int64);
        var targets = empty(b * k, ScalarType.Int64);
        var inputMemory = CpuTensorMemory.Of<long>(inputs);
        var labelMemory = CpuTensorMemory.Of<long>(labels);
        var supervisedMemory = CpuTensorMemory.Of<long>(supervised);
        var targetMemory = CpuTensorMemory.Of<long>(targets);
        var scratch = _scratch.Value!;
        for (int i = 0; i < b; i++)
        {
            var input = inputMemory.Row(i, seqLen);
            _data.CopyInputs(rows[i], input);
            _data.SupervisedPositions(rows[i], scratch.Positions);
            var rowTargets = targetMemory.Row(i, k);
            MqarDataset.TargetsOf<long, long>(input, k, scratch.Positions, rowTargets, scratch.ValueOfKey);
            var label = labelMemory.Row(i, seqLen);
            var index = supervisedMemory.Row(i, k);
            label.Fill(MqarDataset.IgnoreIndex);
            for (int t = 0; t < k; t++)
            {
                int position = scratch.Positions[t];
                label[position] = rowTargets[t];
                index[t] = (long)i * seqLen + position;
            }
        }
        return new MqarBatch(inputs, labels, supervised, targets);
    }

    private MqarBatch DeviceBatch(ReadOnlySpan<int> rows)
    {
        int b = rows.Length;
        var rowIndex = new long[b];
        for (int i = 0; i < b; i++) rowIndex[i] = rows[i];
        using var scope = NewDisposeScope();
        var select = tensor(rowIndex).to(Device);
        var inputs = _deviceTokens!.index_select(0, select).to(ScalarType.Int64);
        var positions = _devicePositions!.index_select(0, select).to(ScalarType.Int64);
        var targets = _deviceTargets!.index_select(0, select).to(ScalarType.Int64);
        var labels = full(b, _data.SeqLen, MqarDataset.IgnoreIndex, ScalarType.Int64, Device).scatter_(1, positions, targets);
        var rowStart = arange(0L, (long)b * _data.SeqLen, _data.SeqLen, ScalarType.Int64, Device).unsqueeze(1);
        var supervised = (positions + rowStart).reshape(-1);
        return new MqarBatch(inputs.MoveToOuterDisposeScope(), labels.MoveToOuterDisposeScope(),
            supervised.MoveToOuterDisposeScope(), targets.reshape(-1).MoveToOuterDisposeScope());
    }

    /// <summary>Copies tokens [N, L], supervised positions [N, K] and targets [N, K], each in a narrow dtype, to the device in chunks of rows.</summary>
    private static (Tensor Tokens, Tensor Positions, Tensor Targets) Upload(MqarDataset data, Device device, MqarDataset.RowScratch scratch)
    {
        int n = data.Count, seqLen = data.SeqLen, k = data.NumKvPairs;
        var tokenType = data.Tokens.TorchType(data.VocabSize);
        var positionType = seqLen <= short.MaxValue + 1 ? ScalarType.Int16 : ScalarType.Int32;
        var tokens = empty(n, seqLen, tokenType, device);
        var positions = empty(n, k, positionType, device);
        var targets = empty(n, k, tokenType, device);
        for (int start = 0; start < n; start += UploadRows)
        {
            int rows = Math.Min(UploadRows, n - start);
            using var scope = NewDisposeScope();
            var tokenChunk = zeros(rows, seqLen, ScalarType.Int32);
            var positionChunk = zeros(rows, k, ScalarType.Int32);
            var targetChunk = zeros(rows, k, ScalarType.Int32);
            var tokenMemory = CpuTensorMemory.Of<int>(tokenChunk);
            var positionMemory = CpuTensorMemory.Of<int>(positionChunk);
            var targetMemory = CpuTensorMemory.Of<int>(targetChunk);
            for (int i = 0; i < rows; i++)
            {
                var rowSpan = tokenMemory.Row(i, seqLen);
                data.CopyInputs(start + i, rowSpan);
                var rowPositions = positionMemory.Row(i, k);
                data.SupervisedPositions(start + i, rowPositions);
                MqarDataset.TargetsOf<int, int>(rowSpan, k, rowPositions, targetMemory.Row(i, k), scratch.ValueOfKey);
            }
            tokens.narrow(0, start, rows).copy_(tokenChunk.to(tokenType));
            positions.narrow(0, start, rows).copy_(positionChunk.to(positionType));
            targets.narrow(0, start, rows).copy_(targetChunk.to(tokenType));
        }
        return (tokens, positions, targets);
    }

    public void Dispose()
    {
        _deviceTokens?.Dispose();
        _devicePositions?.Dispose();
        _deviceTargets?.Dispose();
        _scratch.Dispose();
    }
}
