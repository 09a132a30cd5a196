using Rebased.Data;
using Rebased.Data.Mqar;

namespace Rebased.Tests.Data.Mqar;

public class MqarBatchesTests
{
    public MqarBatchesTests() => TorchRuntime.EnsureLoaded();

    private static readonly MqarDataset Data = MqarGenerator.Generate(new MqarArgs(8192, 70, 64, 8, Seed: 5), MqarMode.Fast);

    [Fact]
    public void AnEpochVisitsEveryRowOnceInItsOrderWithThePartialBatchLast()
    {
        using var batches = new MqarBatches(Data, 16, shuffle: true, seed: 1, CPU);
        Assert.Equal(5, batches.BatchesPerEpoch);
        var (inputs, labels) = MqarChecks.Dense(Data);
        var order = batches.Order(3);
        Assert.Equal(Enumerable.Range(0, 70), order.Order());
        int seen = 0;
        foreach (var batch in batches.Epoch(3))
            using (batch)
            {
                Assert.Equal(seen + 16 <= 70 ? 16 : 70 - seen, batch.Size);
                var bi = batch.Inputs.data<long>().ToArray();
                var bl = batch.Labels.data<long>().ToArray();
                for (int i = 0; i < batch.Size; i++)
                {
                    Assert.Equal(inputs[order[seen + i]], bi.AsSpan(i * 64, 64).ToArray());
                    Assert.Equal(labels[order[seen + i]], bl.AsSpan(i * 64, 64).ToArray());
                }
                AssertIndexAndTargetsMatchLabels(batch, 8);
                seen += batch.Size;
            }
        Assert.Equal(70, seen);
    }

    [Fact]
    public void OrderDependsOnlyOnSeedAndEpoch()
    {
        using var a = new MqarBatches(Data, 16, shuffle: true, seed: 1, CPU);
        using var b = new MqarBatches(Data, 32, shuffle: true, seed: 1, CPU);
        using var c = new MqarBatches(Data, 16, shuffle: true, seed: 2, CPU);
        using var plain = new MqarBatches(Data, 16, shuffle: false, seed: 1, CPU);
        Assert.Equal(a.Order(4), b.Order(4));
        Assert.NotEqual(a.Order(4), a.Order(5));
        Assert.NotEqual(a.Order(4), c.Order(4));
        Assert.Equal(Enumerable.Range(0, 70), plain.Order(9));
        using var late = a.Batch(4, 2);
        a.Batch(0, 0).Dispose();
        using var again = a.Batch(4, 2);
        Assert.True(late.Inputs.eq(again.Inputs).all().item<bool>());
    }

    [Theory]
    [InlineData(200, 16)]     // byte tokens
    [InlineData(8192, 64)]    // ushort tokens, int16 on the device
    [InlineData(40000, 64)]   // ushort tokens above 32767, int32 on the device
    [InlineData(70000, 32)]   // int tokens
    public void DeviceResidentBatchesEqualHostBatches(int vocab, int seqLen)
    {
        var data = MqarGenerator.Generate(new MqarArgs(vocab, 37, seqLen, seqLen / 4, Seed: 8), MqarMode.Fast);
        using var host = new MqarBatches(data, 8, shuffle: true, seed: 3, CPU, keepOnDevice: false);
        using var device = new MqarBatches(data, 8, shuffle: true, seed: 3, CPU, keepOnDevice: true);
        for (int i = 0; i < host.BatchesPerEpoch; i++)
        {
            using var h = host.Batch(1, i);
            using var d = device.Batch(1, i);
            foreach (var (x, y) in new[] { (h.Inputs, d.Inputs), (h.Labels, d.Labels), (h.SupervisedIndex, d.SupervisedIndex), (h.Targets, d.Targets) })
            {
                Assert.Equal(ScalarType.Int64, y.dtype);
                Assert.Equal(x.shape, y.shape);
                Assert.True(x.eq(y).all().item<bool>());
            }
            AssertIndexAndTargetsMatchLabels(d, seqLen / 4);
        }
    }

    [Fact]
    public void BadBatchSizeIsAUserError()
    {
        var error = Assert.Throws<UserError>(() => new MqarBatches(Data, 0, shuffle: true, seed: 1, CPU));
        Assert.Contains("batch size", error.Message);
    }

    private static void AssertIndexAndTargetsMatchLabels(MqarBatch batch, int k)
    {
        var labels = batch.Labels.data<long>().ToArray();
        var index = batch.SupervisedIndex.data<long>().ToArray();
        var targets = batch.Targets.data<long>().ToArray();
        Assert.Equal(batch.Size * k, index.Length);
        Assert.Equal(index.Order(), index);
        Assert.Equal(index.Length, index.Distinct().Count());
        var supervised = Enumerable.Range(0, labels.Length).Where(i => labels[i] != MqarChecks.Ignore).Select(i => (long)i);
        Assert.Equal(supervised, index);
        Assert.Equal(index.Select(i => labels[i]), targets);
    }
}
