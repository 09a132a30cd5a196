using System.Text.RegularExpressions;
namespace Rebased.Tests.Experiments;

/// <summary>The commands end to end on a fake trainer: sweep, status, report.</summary>
public class SweepCliTests : SweepKitTests
{
    (int Code, string Output) Run(params string[] args)
    {
        using var p = Kit.StartCli(Kit.TrainerWords(epochs: 2, epochSeconds: 0.01, crashMixer: "mamba"), args);
        Assert.True(p.WaitForExit(60_000));
        p.WaitForExit();
        var log = Path.Combine(Kit.Dir, $"cli-{p.Id}.log");
        return (p.ExitCode, File.Exists(log) ? File.ReadAllText(log) : "");
    }

    [Fact]
    public void SweepStatusAndReportFromOneStore()
    {
        var file = Kit.WriteSweep("cli", """
              model.sequence_mixer.name: {values: [rebased, mamba]}
              model.d_model: {values: [64, 128]}
              learning_rate: {values: [1e-3, 1e-2]}
              seed: {values: [1, 2]}
            """);
        var store = Path.Combine(Kit.Dir, "cli.db");

        var (code, output) = Run("sweep", file, "--store", store, "--workers", "2");
        Assert.Equal(1, code); // the crashing mixer's runs failed
        Assert.Contains("sweep cli: 16 runs (16 new)", output);
        Assert.Contains("this session: 8 finished, 8 failed, 0 interrupted", output);

        (code, output) = Run("sweep", "status", "--store", store);
        Assert.Equal(0, code);
        Assert.Matches(@"cli\s*│\s*8\s*│\s*0\s*│\s*8\s*│\s*0\s*│\s*16", output);
        Assert.Contains("the trainer exited with code 3", output);
        // Not a terminal: 80 columns, one line per run (the config cut to fit, the hash to its first 8 characters).
        var tableLines = output.Split('\n').Where(l => l.StartsWith('│')).ToList();
        Assert.All(tableLines, l => Assert.True(l.Length <= 80, $"{l.Length} columns: {l}"));
        var runLines = tableLines.Where(l => l.Contains("finished") || l.Contains("failed")).ToList();
        Assert.Equal(16, runLines.Count(l => Regex.IsMatch(l, @"^│ \d+ +│ [0-9a-f]{8} │ (finished|failed) +│")));
        Assert.Contains(runLines, l => l.Contains("│ name=mamba d_model=64 le… │"));

        var reports = Path.Combine(Kit.Dir, "reports");
        (code, output) = Run("report", "--store", store, "--out", reports);
        Assert.Equal(0, code);
        Assert.Contains("cli: 8 finished runs → 2 points", output);
        // Fake accuracy = d/1000 + lr, the same for both seeds: lr 1e-2 wins, std 0.
        Assert.Equal(
            ["mixer,seq_len,d_model,best_lr,mean_accuracy,std_accuracy,seeds,error_below,error_above",
             "rebased,64,64,0.01,0.074,0,2,0,0", "rebased,64,128,0.01,0.138,0,2,0,0"],
            File.ReadAllLines(Path.Combine(reports, "cli_figure1.csv")));
        Assert.True(new FileInfo(Path.Combine(reports, "cli_figure1.png")).Length > 10_000);
        Assert.Contains("| ReBased | .07±.00 .14±.00 | .11 |", File.ReadAllText(Path.Combine(reports, "cli_table.md")));

        // Re-running the finished sweep starts nothing; usage errors exit 2.
        var before = Kit.LogLines().Length;
        (code, output) = Run("sweep", file, "--store", store);
        Assert.Contains("8 finished, 8 failed, 0 pending", output);
        Assert.Equal(before, Kit.LogLines().Length);
        Assert.Equal(2, Run("sweep", file, "--workers", "2", "--devices", "cuda:0").Code);
        (code, output) = Run("sweep", Path.Combine(Kit.Dir, "missing.yaml"));
        Assert.Equal(1, code);
        Assert.Contains("error: sweep file not found", output);
    }
}
