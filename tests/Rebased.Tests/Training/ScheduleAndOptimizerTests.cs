using Rebased.Training;

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

    [Fact]
    public void AdamWSkipsParametersWithoutGradientAsPyTorchDoes()
    {
        random.manual_seed(4);
        var w0 = randn(4, 3);
        var unused0 = randn(3);
        var ours = (new TorchSharp.Modules.Parameter(w0.clone()), new TorchSharp.Modules.Parameter(unused0.clone()));
        var theirs = (new TorchSharp.Modules.Parameter(w0.clone()), new TorchSharp.Modules.Parameter(unused0.clone()));
        var adam = new AdamW(new[] { ("w", ours.Item1), ("unused", ours.Item2) }, 1e-2, weightDecay: 0.1);
        var reference = optim.AdamW(new[] { theirs.Item1, theirs.Item2 }, 1e-2, 0.9, 0.999, 1e-8, 0.1);
        for (int step = 0; step < 4; step++)
        {
            var x = randn(2, 4);
            foreach (var w in new[] { ours.Item1, theirs.Item1 }) x.matmul(w).pow(2).sum().backward();
            adam.Step();
            reference.step();
            adam.ZeroGrad();
            reference.zero_grad();
        }
        Assert.True(ours.Item1.allclose(theirs.Item1, 1e-6, 1e-7), "stepped weights");
        Assert.True(ours.Item2.allclose(unused0, 0, 0), "a parameter without gradient is neither decayed nor moved");
        Assert.Equal(new[] { "exp_avg.w", "exp_avg_sq.w" }, adam.StateTensors().Select(kv => kv.Key).ToArray());

        var moment = adam.StateTensors().First().Value;
        Assert.Equal(ours.Item1.shape, moment.shape);
        var twin = new AdamW(new[] { ("w", new TorchSharp.Modules.Parameter(w0.clone())), ("unused", new TorchSharp.Modules.Parameter(unused0.clone())) }, 1e-2, 0.1);
        twin.LoadState(adam.Steps, adam.StateTensors().ToDictionary(kv => kv.Key, kv => kv.Value), "test");
        Assert.True(twin.StateTensors().First().Value.allclose(moment, 0, 0), "state round trip");
    }
}
