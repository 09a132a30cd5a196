using System.Diagnostics;
using Rebased.Cli;

namespace Rebased.Tests.Cli;

/// <summary>Bad command lines through the built CLI: each is refused with exit code 2 (usage) or 1 (input) and a
/// one-line error that names the problem, before anything runs.</summary>
public class BadInputTests : IDisposable
{
    readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("rebased-bad-input-");
    public void Dispose() => _dir.Delete(recursive: true);

    (int Code, string Stdout, string Error) Run(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _dir.FullName };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Rebased.Cli.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        var errors = stderr.Split('\n').Where(l => l.StartsWith("error: ", StringComparison.Ordinal)).ToList();
        return (p.ExitCode, stdout.Result, errors.Count == 1 ? errors[0] : $"expected one error line, got: {stderr}");
    }

    (int Code, string Error) CodeAndError(params string[] args)
    {
        var (code, _, error) = Run(args);
        return (code, error);
    }

    string Write(string name, string text)
    {
        var path = Path.Combine(_dir.FullName, name);
        File.WriteAllText(path, text);
        return path;
    }

    string Sweep() => Write("s.yaml", "name: s\nbase: {model: {sequence_mixer: {name: rebased}}}\nparameters:\n  seed: {values: [1, 2]}\n");

    [Fact]
    public void UnknownOptionsAreRefusedWithTheClosestOption()
    {
        var (code, stdout, error) = Run("sweep", Sweep(), "--dryrun");
        Assert.Equal((2, "error: unknown option --dryrun for `rebased sweep`; did you mean --dry-run?"), (code, error));
        Assert.Equal("", stdout);
        Assert.False(Directory.Exists(Path.Combine(_dir.FullName, "runs")));

        Assert.Equal((2, "error: unknown option --outdir for `rebased report`; did you mean --out?"), CodeAndError("report", "--outdir", "x"));
        Assert.Equal("error: unknown option --epochs for `rebased train`; its options: `rebased train --help`", Run("train", "--config", "c.yaml", "--epochs", "3").Error);
        Assert.Equal("error: unknown option --stor for `rebased sweep status`; did you mean --store?", Run("sweep", "status", "--stor", "x").Error);
        Assert.Equal("error: unknown option -x for `rebased bench train`; its options: `rebased bench train --help`", Run("bench", "train", "-x").Error);
        Assert.Equal("error: unknown option --foo for `rebased bench`: give a command first (kernels, scans, train)", Run("bench", "--foo").Error);
        Assert.Equal("error: unknown option --vesion for `rebased`; did you mean --version?", Run("--vesion").Error);
    }

    [Theory]
    [InlineData("--threads 'abc': expected an integer from -2147483648 to 2147483647 (the option's own bounds: --help)", "train", "--config", "c.yaml", "--threads", "abc")]
    [InlineData("--examples '10000000000': expected an integer from -2147483648 to 2147483647 (the option's own bounds: --help)", "data", "mqar", "--vocab", "16", "--seq-len", "8", "--kv-pairs", "1", "--seed", "0", "--preview", "1", "--examples", "10000000000")]
    [InlineData("--lr 'fast': expected a number such as 0.001 or 1e-3", "bench", "train", "--lr", "fast")]
    [InlineData("--slurm-tasks must be at least 1, got 0", "sweep", "FILE", "--emit-slurm", "x.sbatch", "--slurm-tasks", "0")]
    [InlineData("--slurm-tasks needs --emit-slurm FILE", "sweep", "FILE", "--slurm-tasks", "2")]
    public void BadValuesNameTheOptionAndWhatItTakes(string expected, params string[] args)
    {
        Assert.Equal((2, "error: " + expected), CodeAndError(args.Select(a => a == "FILE" ? Sweep() : a).ToArray()));
        Assert.False(File.Exists(Path.Combine(_dir.FullName, "x.sbatch")));
    }

    [Fact]
    public void ThreadCountsAreBoundedByTheCores()
    {
        var expected = $"error: --threads must be between 1 and {4 * Environment.ProcessorCount} (4 x the {Environment.ProcessorCount} CPU cores), got 100000";
        Assert.Equal((2, expected), CodeAndError("train", "--config", "c.yaml", "--threads", "100000"));
        Assert.Equal(expected, Run("bench", "train", "--threads", "100000").Error);
    }

    [Fact]
    public void YamlSyntaxErrorsNameTheFileLineAndColumn()
    {
        var config = Write("bad.yaml", "model:\n  d_model: [1, 2\nfoo: : bar\n");
        Assert.Equal((1, $"error: {config}:2:14: not valid YAML (a malformed value after this point; check brackets, colons and quotes)"),
            CodeAndError("train", "--config", config));
        var sweep = Write("bad-sweep.yaml", "name: s\nparameters:\n  seed: {values: [1, 2}\n");
        Assert.Equal($"error: {sweep}:3:23: not valid YAML (While parsing a flow sequence, did not find expected ',' or ']'.)", Run("sweep", sweep, "--dry-run").Error);
    }

    [Fact]
    public void VersionAndVerboseAreDocumented()
    {
        var (code, stdout, _) = Run("--version");
        Assert.Equal(0, code);
        Assert.Equal(Rebased.Cli.Cli.Version, stdout.Trim());
        Assert.Matches(@"^\d+\.\d+\.\d+", stdout);
        Assert.Contains("--verbose", Run("--help").Stdout);
        var benchHelp = Run("bench", "train", "--help").Stdout;
        foreach (var text in new[] { "Sequence length (default 512)", "Model width (default 128)", "Untimed steps first (default 3)", "Vocabulary size (default 8192)", "AdamW learning rate (default 1e-3)" })
            Assert.Contains(text, benchHelp);
    }

    [Fact]
    public void EveryCommandIsKnownToTheErrorMessages()
    {
        var commandTypes = typeof(OptionErrors).Assembly.GetTypes()
            .Where(t => !t.IsAbstract && t.BaseType is { IsGenericType: true } b && b.GetGenericTypeDefinition() == typeof(Spectre.Console.Cli.Command<>))
            .Select(t => t.BaseType!.GetGenericArguments()[0]);
        Assert.Empty(commandTypes.Except(OptionErrors.Commands.Values));
    }

    [Fact]
    public void LevenshteinCountsEdits()
    {
        Assert.Equal(1, OptionErrors.Levenshtein("--dryrun", "--dry-run"));
        Assert.Equal(3, OptionErrors.Levenshtein("kitten", "sitting"));
        Assert.Equal(0, OptionErrors.Levenshtein("", ""));
    }
}
