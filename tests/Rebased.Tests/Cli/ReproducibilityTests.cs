using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Rebased.Tests.Cli;

/// <summary>The README's promise: the same config, seed and thread count give the same metrics, bit for bit.</summary>
public class ReproducibilityTests : IDisposable
{
    readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("rebased-repro-");
    public void Dispose() => _dir.Delete(recursive: true);

    string Train(string runDir, int threads)
    {
        var config = Path.Combine(_dir.FullName, "c.yaml");
        File.WriteAllText(config, "model: {sequence_mixer: {name: rebased}, d_model: 24, vocab_size: 64}\n" +
            "data: {vocab_size: 64, input_seq_len: 32, batch_size: 32, num_train_examples: 256, num_test_examples: 64, caching: false}\nmax_epochs: 2\nseed: 5\n");
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _dir.FullName };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "Rebased.Cli.dll"), "train", "--config", config, "--threads", threads.ToString(), "--run-dir", runDir })
            start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var errors = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, output.Result + errors);
        // Everything but the timings.
        return string.Join("\n", File.ReadAllLines(Path.Combine(_dir.FullName, runDir, "metrics.jsonl")).Select(line =>
        {
            var metrics = JsonNode.Parse(line)!.AsObject();
            metrics.Remove("tokens_per_s");
            metrics.Remove("elapsed_s");
            return metrics.ToJsonString();
        }));
    }

    [Fact]
    public void TheSameSeedAndThreadCountGiveIdenticalMetrics()
    {
        var first = Train("a", threads: 1);
        Assert.Contains("\"valid_loss\"", first);
        Assert.Equal(first, Train("b", threads: 1));
    }
}
