using Rebased.Mixers;
using System.Diagnostics;
using Rebased.IO;
using Rebased.Kernels;
using Rebased.Models;

namespace Rebased.Tests.Models;

public class ParityTests
{
    public ParityTests() => TorchRuntime.EnsureLoaded();

    [Theory]
    [InlineData("attention")]
    [InlineData("conv_attention")]
    [InlineData("based")]
    [InlineData("rebased")]
    public void ForwardAndBackwardMatchTheReference(string mixer)
    {
        var fixture = ParityFixture.Load(TestModels.FixtureDir(mixer));
        var result = Assert.Single(Parity.Run(fixture));
        Assert.True(result.Passed, $"worst {result.Worst}");
        // The fixtures README expects about 1e-6 for a faithful fp32 port; the limits above are 1e-4 / 1e-3.
        Assert.True(result.Logits.Relative < 1e-5, $"logits {result.Logits.Relative}");
        Assert.True(result.Loss.Relative < 1e-5, $"loss {result.Loss.Relative}");
        Assert.True(result.WorstGradient.Relative < 1e-5, $"{result.WorstGradient}");
        Assert.Equal(SafeTensors.Load(fixture.PathOf("grads.safetensors")).Count, result.Gradients.Count);
    }

    [Fact]
    public void RwkvFixtureIsComparedInBothWkvModes()
    {
        var targets = Parity.Targets(ParityFixture.Load(TestModels.FixtureDir("rwkv")));
        Assert.Equal(2, targets.Count);
        Assert.Equal(("outputs.safetensors", "grads.safetensors", 5e-3), (targets[0].OutputsFile, targets[0].GradientsFile, targets[0].Tolerances.Gradients));
        Assert.Equal(true, targets[0].MixerKwargs[Rwkv4TimeMixer.Bf16RoundingKwarg]);
        Assert.Equal(("outputs_fp32wkv.safetensors", "grads_fp32wkv.safetensors", 1e-3), (targets[1].OutputsFile, targets[1].GradientsFile, targets[1].Tolerances.Gradients));
        Assert.Equal(false, targets[1].MixerKwargs[Rwkv4TimeMixer.Bf16RoundingKwarg]);
    }

    [Fact]
    public void RelativeErrorIsTheFrobeniusRatio()
    {
        using var reference = tensor(new float[] { 3, 4 });
        using var ours = tensor(new float[] { 3, 4.5f });
        Assert.Equal(0.1, TensorErrors.Relative(ours, reference), 12);
        Assert.Equal(0.0, TensorErrors.Relative(zeros(2), zeros(2)));
        Assert.Equal(double.PositiveInfinity, TensorErrors.Relative(ones(2), zeros(2)));
        Assert.True(double.IsNaN(TensorErrors.Relative(ones(3), ones(2))));
    }

    [Fact]
    public void CommandPassesOnAFixtureAndFailsOnAPerturbedOne()
    {
        var (code, output) = RunCli("parity", "--fixture", TestModels.FixtureDir("based"));
        Assert.Equal(0, code);
        var lines = output.Trim().Split('\n');
        Assert.StartsWith("logits", lines[0]);
        Assert.StartsWith("loss", lines[1]);
        Assert.StartsWith("worst gradient", lines[2]);
        Assert.Equal("parity: PASS", lines[^1].Trim());

        var dir = Directory.CreateTempSubdirectory("parity-").FullName;
        try
        {
            foreach (var file in Directory.GetFiles(TestModels.FixtureDir("based")))
                File.Copy(file, Path.Combine(dir, Path.GetFileName(file)));
            var outputs = SafeTensors.Load(Path.Combine(dir, "outputs.safetensors"));
            outputs["logits"] = outputs["logits"] * 1.01f;
            SafeTensors.Save(Path.Combine(dir, "outputs.safetensors"), outputs);
            (code, output) = RunCli("parity", "--fixture", dir);
            Assert.Equal(1, code);
            Assert.Contains("parity: FAIL worst logits", output);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void CommandNamesAMissingFixture()
    {
        var (code, output) = RunCli("parity", "--fixture", "/nonexistent/fixture");
        Assert.Equal(1, code);
        Assert.Contains("/nonexistent/fixture: fixture folder not found", output);
    }

    private static (int Code, string Output) RunCli(params string[] args)
    {
        var start = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "Rebased.Cli"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result + stderr);
    }
}
