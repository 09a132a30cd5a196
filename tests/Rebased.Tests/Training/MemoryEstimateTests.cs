using Rebased.Configs;
using Rebased.Models;
using Rebased.Tests.Models;
using Rebased.Training;

namespace Rebased.Tests.Training;

public class MemoryEstimateTests
{
    public MemoryEstimateTests() => TorchRuntime.EnsureLoaded();

    static RunConfig Run(string mixer, int dModel, int seqLen)
    {
        var run = new RunConfig();
        run.Model = TestModels.Config(mixer, dModel, seqLen, vocab: 8192);
        run.Data.InputSeqLen = seqLen;
        run.Data.VocabSize = 8192;
        return run;
    }

    [Theory]
    [InlineData("rebased", 64, 256)]
    [InlineData("based", 128, 256)]
    [InlineData("attention", 64, 1024)]
    [InlineData("conv_attention", 256, 128)]
    [InlineData("mamba", 64, 256)]
    [InlineData("rwkv", 64, 256)]
    public void TheParameterEstimateIsALowerBoundWithinAFactorOfTwo(string mixer, int dModel, int seqLen)
    {
        var run = Run(mixer, dModel, seqLen);
        using var model = new LanguageModel(run.Model);
        var estimate = MemoryEstimate.For(run);
        Assert.InRange(estimate.Parameters, model.ParameterCount() / 2.0, model.ParameterCount());
        Assert.Equal(16 * estimate.Parameters, estimate.ParameterBytes);
    }

    [Fact]
    public void ActivationsAndDataGrowWithTheBatchAndTheSet()
    {
        var run = Run("rebased", 128, 64);
        run.Data.BatchSize = 32;
        run.Data.NumTrainExamples = 1000;
        run.Data.NumTestExamples = 100;
        var estimate = MemoryEstimate.For(run);
        Assert.Equal(4.0 * 32 * 64 * 128 * (1 + 8 * 2), estimate.ActivationBytes);
        Assert.Equal(1100.0 * 64 * 2, estimate.DataBytes); // 8192 token ids fit 2 bytes
        run.Data.BatchSize = 5000; // more than the set: one batch of the whole set
        Assert.Equal(4.0 * 1000 * 64 * 128 * 17, MemoryEstimate.For(run).ActivationBytes);
    }

    [Fact]
    public void ARunThatCannotFitIsRefusedAndOneThatFitsIsNot()
    {
        var small = Run("rebased", 64, 64);
        MemoryEstimate.Check(small, torch.CPU);
        var huge = Run("rebased", 64, 64);
        huge.Model.DModel = 1_000_000_000;
        var e = Assert.Throws<UserError>(() => MemoryEstimate.Check(huge, torch.CPU));
        Assert.StartsWith("model.d_model 1000000000, model.n_layers 2, data.batch_size 32: the run needs at least ", e.Message);
        Assert.Contains("of RAM available: lower model.d_model", e.Message);
        Assert.True(MemoryEstimate.AvailableRam() > 0);
    }

    [Theory]
    [InlineData(512, "512 B")]
    [InlineData(1536, "1.5 KiB")]
    [InlineData(3.5 * 1024 * 1024 * 1024, "3.5 GiB")]
    public void SizesAreInBinaryUnits(double bytes, string expected) => Assert.Equal(expected, MemoryEstimate.Size(bytes));
}
