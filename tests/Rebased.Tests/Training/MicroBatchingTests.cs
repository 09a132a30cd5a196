using Rebased.Training;

namespace Rebased.Tests.Training;

public class MicroBatchingTests
{
    [Theory]
    [InlineData(512, 48, 512, 1)]
    [InlineData(512, 256, 512, 1)]
    [InlineData(512, 512, 256, 2)]
    [InlineData(512, 1024, 128, 4)]
    [InlineData(512, 2048, 64, 8)]
    [InlineData(64, 2048, 64, 1)]
    [InlineData(256, 512, 256, 1)]
    public void TheReferenceRuleSplitsLongSequences(int batch, int seqLen, int micro, int accumulation)
    {
        var plan = MicroBatchPlan.ForReference(batch, seqLen);
        Assert.Equal(micro, plan.MicroBatchSize);
        Assert.Equal(accumulation, plan.AccumulationSteps);
    }

    [Fact]
    public void LeftoverMicroBatchesAreDropped()
    {
        // 100,000 rows in micro-batches of 256: 391 loader batches, 195 optimizer steps (the reference's count).
        var plan = MicroBatchPlan.ForReference(512, 512);
        Assert.Equal(195, plan.StepsPerEpoch((100_000 + 255) / 256));
        Assert.Equal(196, MicroBatchPlan.ForReference(512, 256).StepsPerEpoch((100_000 + 511) / 512));
    }
}
