using Rebased.Cli.Commands;
using Rebased.Experiments;

namespace Rebased.Tests.Experiments;

public class PlacementTests
{
    [Fact]
    public void DevicesTimesRunsPerDeviceGiveTheSlots()
    {
        var settings = new SweepCommand.Settings { Devices = "cuda:0, cuda:1", RunsPerDevice = 3 };
        Assert.Equal(["cuda:0", "cuda:1", "cuda:0", "cuda:1", "cuda:0", "cuda:1"], settings.Slots());
        Assert.Equal([null, null, null], new SweepCommand.Settings { Workers = 3 }.Slots());
        Assert.Equal([null], new SweepCommand.Settings().Slots());
        Assert.False(new SweepCommand.Settings { Workers = 2, Devices = "cuda:0" }.Validate().Successful);
        Assert.False(new SweepCommand.Settings { RunsPerDevice = 2 }.Validate().Successful);
    }

    [Theory]
    [InlineData(2, 1, 1)]
    [InlineData(16, 1, 8)]
    [InlineData(64, 1, 8)]
    [InlineData(16, 2, 4)]
    [InlineData(8, 2, 2)]
    [InlineData(32, 8, 2)]
    public void DefaultRunsPerDeviceFollowsTheDocumentedRule(int cores, int devices, int expected) =>
        Assert.Equal(expected, PlacementSettings.DefaultRunsPerDevice(devices, cores));

    [Fact]
    public void SlurmScriptForGpuWorkers()
    {
        var script = SweepPlan.SlurmScript("main_fig", "postgres://u:p@db/sweeps", ["/opt/rebased/rebased"], tasks: 16, gpu: true, runsPerDevice: 4, "/runs/main_fig");
        Assert.StartsWith("#!/bin/bash\n#SBATCH --job-name=rebased-main_fig\n#SBATCH --array=0-15\n", script);
        Assert.Contains("#SBATCH --gres=gpu:1\n#SBATCH --cpus-per-task=8\n", script);
        Assert.Contains("#SBATCH --output=/runs/main_fig/slurm-%A_%a.out", script);
        Assert.EndsWith("REBASED=('/opt/rebased/rebased')\nexec \"${REBASED[@]}\" sweep worker --store 'postgres://u:p@db/sweeps' --sweep 'main_fig' --devices cuda:0 --runs-per-device 4\n", script);
    }
}
