using Rebased.Native;
using Rebased.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Rebased.Tests.Training;

public class ScheduleAndOptimizerTests
{
    public ScheduleAndOptimizerTests() => TorchRuntime.EnsureLoaded();

    [Fact]
    public void CosineScheduleEqualsTorchSharpsCosineAnnealingStepPerEpoch()
    {
        var p = new TorchSharp.Modules.Parameter(zeros(1));
        var sgd = optim.SGD(new[] { p }, 3e-3);
        var scheduler = optim.lr_scheduler.CosineAnnealingLR(sgd, 64, 0.0);
        for (int epoch = 0; epoch < 64; epoch++)
        {
            Assert.Equal(sgd.ParamGroups.First().LearningRate, CosineSchedule.LearningRate(epoch, 3e-3, 64), 15);
            double closed = 3e-3 * (1 + Math.Cos(Math.PI * epoch / 64)) / 2;
            Assert.Equal(closed, CosineSchedule.LearningRate(epoch, 3e-3, 64), 14);
            sgd.step();
            scheduler.step();
        }
        Assert.Equal(1.5e-3, CosineSchedule.LearningRate(32, 3e-3, 64), 15);
    }

    [Fact]
    public void AdamWMatchesTorchSharpsAdamW()
    {
        random.manual_seed(3);
        var w0 = randn(5, 7);
        var b0 = randn(7);
        var ours = (new TorchSharp.Modules.Parameter(w0.clone()), new TorchSharp.Modules.Parameter(b0.clone()));
        var theirs = (new TorchSharp.Modules.Parameter(w0.clone()), new TorchSharp.Modules.Parameter(b0.clone()));
        var adam = new AdamW(new[] { ("w", ours.Item1), ("b", ours.Item2) }, 1e-2, weightDecay: 0.1);
        var reference = optim.AdamW(new[] { theirs.Item1, theirs.Item2 }, 1e-2, 0.9, 0.999, 1e-8, 0.1);
        for (int step = 0; step < 6; step++)
        {
            var x = randn(3, 5);
            foreach (var (w, b) in new[] { ours, theirs })
            {
                var loss = (x.matmul(w) + b).pow(2).mean();
                loss.backward();
            }
            adam.Step();
            reference.step();
            adam.ZeroGrad();
            reference.zero_grad();
            if (step == 3) { adam.LearningRate = 5e-3; reference.ParamGroups.First().LearningRate = 5e-3; }
        }
        Assert.Equal(6, adam.Steps);
        Assert.True(ours.Item1.allclose(theirs.Item1, 1e-6, 1e-7), "weights");
        Assert.True(ours.Item2.allclose(theirs.Item2, 1e-6, 1e-7), "bias");
        Assert.False(ours.Item1.allclose(w0, 1e-3, 1e-3));
    }
}
