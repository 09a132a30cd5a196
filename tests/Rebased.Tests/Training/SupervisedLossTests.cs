using Rebased.Modules;
using Rebased.Training;
using static Rebased.Tests.Training.TrainingTestKit;

namespace Rebased.Tests.Training;

[Collection(GlobalRngCollection.Name)]
public class SupervisedLossTests
{
    public SupervisedLossTests() => TorchRuntime.EnsureLoaded();

    [Fact]
    public void SupervisedOnlyLogitsGiveTheFullComputationsLossAccuracyAndGradients()
    {
        var config = Config();
        var model = NewModel(config);
        model.Module.eval();
        var data = new ToyBatches(32, 16, 64, 32, 1, 7);
        var (inputs, labels) = data.Full(0);
        var flatLabels = labels.flatten();
        var supervised = flatLabels.ne(-100).nonzero().flatten();
        var batch = new SupervisedBatch(inputs, supervised, flatLabels.index_select(0, supervised));

        // the reference: logits everywhere, cross-entropy with ignore_index -100, accuracy over labelled positions
        var full = model.Logits(model.Hidden(inputs)).reshape(-1, 64);
        var fullLoss = nn.functional.cross_entropy(full, flatLabels, ignore_index: -100);
        var mask = flatLabels.ne(-100);
        double fullAccuracy = full.argmax(-1).eq(flatLabels).masked_select(mask).to(ScalarType.Float64).mean().item<double>();
        fullLoss.backward();
        var fullGrads = model.Module.parameters().Select(p => p.grad!.clone()).ToList();
        foreach (var p in model.Module.parameters()) p.grad = null;

        var logits = SupervisedLoss.SupervisedLogits(model, batch);
        Assert.Equal(new long[] { 32 * 4, 64 }, logits.shape);
        var loss = SupervisedLoss.Loss(logits, batch.Targets);
        double accuracy = SupervisedLoss.Correct(logits, batch.Targets).item<long>() / (double)batch.Targets.shape[0];
        loss.backward();

        Assert.Equal(fullLoss.item<float>(), loss.item<float>(), 5);
        Assert.Equal(fullAccuracy, accuracy, 12);
        foreach (var (g, p) in fullGrads.Zip(model.Module.parameters()))
            Assert.True(g.allclose(p.grad!, 1e-5, 1e-7));
    }

    [Theory]
    [InlineData(5)]
    [InlineData(1000)]
    public void ChunkedHeadEqualsAutogradThroughLinearAndCrossEntropy(long rowsPerBlock)
    {
        var config = Config();
        var model = NewModel(config);
        model.Module.eval();
        var data = new ToyBatches(32, 16, 64, 32, 3, 7);
        var batch = data.Batch(0, 0);

        var reference = SupervisedLoss.Loss(SupervisedLoss.SupervisedLogits(model, batch), batch.Targets);
        (reference * 0.5).backward();
        var referenceGrads = model.Module.parameters().Select(p => p.grad!.clone()).ToList();
        var logits = SupervisedLoss.SupervisedLogits(model, batch).detach();
        long referenceCorrect = SupervisedLoss.Correct(logits, batch.Targets).item<long>();
        foreach (var p in model.Module.parameters()) p.grad = null;

        var loss = ChunkedHead.ForwardBackward(SupervisedLoss.SupervisedHidden(model, batch), model.HeadWeight, batch.Targets, 0.5, rowsPerBlock);
        Assert.False(loss.requires_grad);
        Assert.Equal(reference.item<float>(), loss.item<float>(), 5);
        foreach (var (expected, p) in referenceGrads.Zip(model.Module.parameters()))
            Assert.True(expected.allclose(p.grad!, 1e-4, 1e-7), $"gradient differs: max {(expected - p.grad!).abs().max().item<float>()}");

        // a second call accumulates, as backward does
        ChunkedHead.ForwardBackward(SupervisedLoss.SupervisedHidden(model, batch), model.HeadWeight, batch.Targets, 0.5, rowsPerBlock);
        foreach (var (expected, p) in referenceGrads.Zip(model.Module.parameters()))
            Assert.True((expected * 2).allclose(p.grad!, 1e-4, 1e-7));

        using var noGrad = no_grad();
        var (lossSum, correct) = ChunkedHead.Evaluate(SupervisedLoss.SupervisedHidden(model, batch), model.HeadWeight, batch.Targets, rowsPerBlock);
        Assert.Equal(reference.item<float>() * batch.Targets.shape[0], lossSum.item<double>(), 3);
        Assert.Equal(referenceCorrect, correct.item<long>());
    }
}
