using Rebased.Kernels;
using static TorchSharp.torch;

namespace Rebased.Tests.Kernels;

public class FormTimerTests
{
    [Fact]
    public void EveryTimingRunsTheFormBackToBackTimes()
    {
        int forward = 0, forwardBackward = 0;
        var form = new TimedForm("counted", () => forward++, () => forwardBackward++);
        var timings = FormTimer.Measure([form], CPU, TimeSpan.FromMilliseconds(1), backToBack: 4);

        Assert.Equal("counted", Assert.Single(timings).Form);
        // Two warm-up timings and at least MinRuns timed ones, each of four runs.
        foreach (int runs in new[] { forward, forwardBackward })
        {
            Assert.Equal(0, runs % 4);
            Assert.InRange(runs, 4 * (FormTimer.MinRuns + 1), 4 * (FormTimer.MaxRuns + 2));
        }
        Assert.NotNull(timings[0].ForwardMs);
        Assert.NotNull(timings[0].ForwardBackwardMs);
    }

    [Fact]
    public void FewerThanOneRunPerTimingIsRefused()
    {
        var form = new TimedForm("counted", () => { }, null);
        Assert.Throws<ArgumentOutOfRangeException>(() => FormTimer.Measure([form], CPU, TimeSpan.FromMilliseconds(1), backToBack: 0));
    }
}
