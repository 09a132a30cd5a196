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
        Assert.Equal("error: unknown option --epochs for `rebased train`; config values are set with --set: --set max_epochs=3", Run("train", "--config", "c.yaml", "--epochs", "3").Error);
        Assert.Equal("error: unknown option --lr for `rebased train`; config values are set with --set: --set learning_rate=0.01", Run("train", "--config", "c.yaml", "--lr=0.01").Error);
        Assert.Equal("error: unknown option --weight-decay for `rebased train`; config values are set with --set: --set weight_decay=VALUE", Run("train", "--config", "c.yaml", "--weight-decay").Error);
        Assert.Equal("error: unknown option --stor for `rebased sweep status`; did you mean --store?", Run("sweep", "status", "--stor", "x").Error);
        Assert.Equal("error: unknown option -x for `rebased bench train`; its options: `rebased bench train --help`", Run("bench", "train", "-x").Error);
        Assert.Equal("error: unknown option --foo for `rebased bench`: give a command first (kernels, scans, train)", Run("bench", "--foo").Error);
        Assert.Equal("error: unknown option --vesion for `rebased`; did you mean --version?", Run("--vesion").Error);
    }

    [Theory]
    [InlineData("--examples '10000000000': expected an integer from 1 to 2147483647", "data", "mqar", "--vocab", "16", "--seq-len", "8", "--kv-pairs", "1", "--seed", "0", "--preview", "1", "--examples", "10000000000")]
    [InlineData("--examples 0: expected an integer from 1 to 2147483647", "data", "mqar", "--vocab", "16", "--seq-len", "8", "--kv-pairs", "1", "--seed", "0", "--preview", "1", "--examples", "0")]
    [InlineData("--seed '99999999999999999999': expected an integer from -9223372036854775808 to 9223372036854775807", "data", "mqar", "--vocab", "16", "--seq-len", "8", "--kv-pairs", "1", "--seed", "99999999999999999999", "--preview", "1", "--examples", "1")]
    [InlineData("--steps '99999999999': expected an integer from 1 to 2147483647", "bench", "train", "--steps", "99999999999")]
    [InlineData("--workers 0: expected an integer from 1 to 2147483647", "sweep", "FILE", "--workers", "0", "--dry-run")]
    [InlineData("--lease-seconds 2: expected an integer from 4 to 2147483647", "sweep", "FILE", "--lease-seconds", "2", "--dry-run")]
    [InlineData("--lr 'fast': expected a number such as 0.001 or 1e-3", "bench", "train", "--lr", "fast")]
    [InlineData("--back-to-back 0: expected an integer from 1 to 2147483647", "bench", "kernels", "--back-to-back", "0")]
    [InlineData("--slurm-tasks 0: expected an integer from 1 to 2147483647", "sweep", "FILE", "--emit-slurm", "x.sbatch", "--slurm-tasks", "0")]
    [InlineData("--slurm-tasks needs --emit-slurm FILE", "sweep", "FILE", "--slurm-tasks", "2")]
    public void BadValuesNameTheOptionAndWhatItTakes(string expected, params string[] args)
    {
        Assert.Equal((2, "error: " + expected), CodeAndError(args.Select(a => a == "FILE" ? Sweep() : a).ToArray()));
        Assert.False(File.Exists(Path.Combine(_dir.FullName, "x.sbatch")));
    }

    [Fact]
    public void ThreadCountsAreBoundedByTheCores()
    {
        var range = $"expected an integer from 1 to {4 * Environment.ProcessorCount} (4 x the {Environment.ProcessorCount} CPU cores)";
        Assert.Equal((2, $"error: --threads 100000: {range}"), CodeAndError("train", "--config", "c.yaml", "--threads", "100000"));
        Assert.Equal($"error: --threads 0: {range}", Run("bench", "train", "--threads", "0").Error);
        Assert.Equal($"error: --threads 'abc': {range}", Run("train", "--config", "c.yaml", "--threads", "abc").Error);
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

    /// <summary>Walks the command tree as `--help` lists it: every command's and branch's help prints without an
    /// error (descriptions are markup, where a stray [word] breaks the page), and every command it lists is one the
    /// option errors know by its words.</summary>
    [Fact]
    public void EveryCommandsHelpPrintsAndEveryListedCommandIsKnownToTheErrorMessages()
    {
        var leaves = new List<string>();
        var pending = new Queue<string>([""]);
        while (pending.TryDequeue(out var words))
        {
            var args = words.Length == 0 ? new[] { "--help" } : [.. words.Split(' '), "--help"];
            var (code, stdout, _) = Run(args);
            Assert.True(code == 0 && stdout.Contains("USAGE:"), $"`rebased {words} --help` exit {code}: {stdout}");
            var listed = stdout.Split('\n').SkipWhile(l => l.Trim() != "COMMANDS:").Skip(1)
                .Select(l => System.Text.RegularExpressions.Regex.Match(l, @"^    ([a-z][a-z0-9-]*)\b")).Where(m => m.Success).Select(m => m.Groups[1].Value).ToList();
            if (listed.Count == 0) leaves.Add(words);
            foreach (var command in listed) pending.Enqueue(words.Length == 0 ? command : $"{words} {command}");
        }
        Assert.Contains("report state-size", leaves);
        Assert.Empty(leaves.Except(OptionErrors.Commands.Keys));
    }

    [Fact]
    public void EveryCommandIsKnownToTheErrorMessages()
    {
        var commandTypes = typeof(OptionErrors).Assembly.GetTypes()
            .Where(t => !t.IsAbstract && t.BaseType is { IsGenericType: true } b && b.GetGenericTypeDefinition() == typeof(Spectre.Console.Cli.Command<>))
            .Select(t => t.BaseType!.GetGenericArguments()[0]);
        Assert.Empty(commandTypes.Except(OptionErrors.Commands.Values));
    }

    [Theory]
    [InlineData("  model.d_model: {values: [16, big]}\n", "grid point 1 of 2 (model.d_model=big): parameter model.d_model=big: 'model.d_model' expects an integer, got 'big'")]
    [InlineData("  model.d_modle: {values: [16, 32]}\n", "grid point 0 of 2 (model.d_modle=16): parameter model.d_modle=16: unknown key 'model.d_modle'; did you mean model.d_model? (known keys here: sequence_mixer, ")]
    [InlineData("  seed: {values: [1, 2]}\n  max_epochs: {values: [1, 0]}\n", "grid point 1 of 4 (seed=1 max_epochs=0): base: max_epochs: must be at least 1, got 0")]
    [InlineData("  data.batch_size: {values: [8, 100000000000]}\n", "grid point 1 of 2 (data.batch_size=100000000000): parameter data.batch_size=100000000000: 'data.batch_size' 100000000000 is out of range: expected an integer from -2147483648 to 2147483647")]
    public void EveryGridPointIsCheckedBeforeAnyRunStarts(string parameters, string expected)
    {
        var sweep = Write("grid.yaml", "name: grid\nbase: {model: {sequence_mixer: {name: rebased}}, data: {num_train_examples: 64, num_test_examples: 16}}\nparameters:\n" + parameters);
        foreach (var dryRun in new[] { true, false })
        {
            var (code, stdout, error) = Run(dryRun ? ["sweep", sweep, "--dry-run"] : ["sweep", sweep]);
            Assert.Equal(1, code);
            Assert.StartsWith($"error: {sweep}: {expected}", error);
            Assert.Equal("", stdout);
        }
        Assert.False(Directory.Exists(Path.Combine(_dir.FullName, "runs")), "nothing is written before the grid is checked");
    }

    [Fact]
    public void SweepDevicesThisHostDoesNotHaveAreRefusedUpFront()
    {
        Rebased.Native.TorchRuntime.EnsureLoaded();
        var problem = Rebased.Training.Devices.TryParse("cuda:9", out _);
        Assert.NotNull(problem);
        if (!TorchSharp.torch.cuda.is_available()) Assert.StartsWith("this host has 0 CUDA devices", problem);
        foreach (var command in new[] { new[] { "sweep", Sweep(), "--devices", "cuda:9", "--dry-run" }, ["sweep", "worker", "--store", "s.db", "--devices", "cuda:9"] })
            Assert.Equal((1, $"error: --devices cuda:9: cuda:9: {problem}"), CodeAndError(command));
        Assert.False(File.Exists(Path.Combine(_dir.FullName, "s.db")));
        Assert.Equal((1, "error: --devices cpu,gpu0: gpu0: expected cpu, cuda or cuda:N"), CodeAndError("sweep", Sweep(), "--devices", "cpu,gpu0", "--dry-run"));
    }

    [Fact]
    public void AModelThatCannotFitIsRefusedWithTheMemoryItNeedsBeforeAnythingIsAllocated()
    {
        var config = Write("c.yaml", "model: {sequence_mixer: {name: rebased}}\ndata: {num_train_examples: 64, num_test_examples: 16}\n");
        var (code, stdout, error) = Run("train", "--config", config, "--set", "model.d_model=1000000000");
        Assert.Equal(1, code);
        Assert.Matches(@"^error: model.d_model 1000000000, model.n_layers 2, data.batch_size 32: the run needs at least [0-9.]+ EiB \(2E\+18 parameters x 16 B for weights, gradients and AdamW moments: [0-9.]+ EiB; " +
            @"activations of one micro-batch: [0-9.]+ TiB; data: [0-9.]+ KiB\), more than the [0-9.]+ [KMGT]iB of RAM available: lower model.d_model, model.vocab_size, data.batch_size or data.num_train_examples$", error);
        Assert.DoesNotContain("frame #", stdout);
        Assert.False(Directory.Exists(Path.Combine(_dir.FullName, "runs")), "no run directory for a run that cannot start");

        // Within the task's token limit (examples × L below 2^31), far beyond any machine's memory.
        var batch = Run("train", "--config", config, "--set", "data.batch_size=30000000", "--set", "data.num_train_examples=30000000");
        Assert.Equal(1, batch.Code);
        Assert.Matches(@"^error: model.d_model 128, model.n_layers 2, data.batch_size 30000000: the run needs at least [0-9.]+ [TP]iB .*activations of one micro-batch: [0-9.]+ [TP]iB; data: [0-9.]+ GiB\), more than", batch.Error);
    }

    [Fact]
    public void StoreFilesThatAreNotUsableStoresNameTheFileAndWhatToDo()
    {
        var notADatabase = Write("notes.db", "these are notes, not a database\n");
        Assert.Equal((1, $"error: {notADatabase} is not a SQLite database, so not a results store: give --store a new file or an existing store"),
            CodeAndError("sweep", "status", "--store", notADatabase));
        Assert.Equal($"error: {notADatabase} is not a SQLite database, so not a results store: give --store a new file or an existing store",
            Run("sweep", Sweep(), "--store", notADatabase).Error);

        var damaged = Path.Combine(_dir.FullName, "damaged.db");
        using (var store = Rebased.Experiments.RunStore.Open(damaged))
            store.Register(Enumerable.Range(0, 40).Select(i => new Rebased.Experiments.RunRecord
            {
                Sweep = "s", ConfigHash = $"h{i}", Position = i, ConfigJson = new string('x', 500), OverridesJson = "[]", BaseConfigPath = "b", RunDir = $"r{i}",
            }));
        var bytes = File.ReadAllBytes(damaged);
        Array.Fill(bytes, (byte)0x5A, 2 * 4096, 3000); // the tables' pages, past the header
        File.WriteAllBytes(damaged, bytes);
        var (code, error) = CodeAndError("sweep", "status", "--store", damaged);
        Assert.Equal(1, code);
        Assert.StartsWith($"error: {damaged}: the results store is damaged (integrity check: ", error);
        Assert.EndsWith("): restore it from a backup, or move it away with its -wal and -shm files to start a new store (the run directories keep their results)", error);

        Directory.CreateDirectory(Path.Combine(_dir.FullName, "stores"));
        Assert.Equal((1, $"error: --store stores is a folder: give the store's file, e.g. {Path.Combine("stores", "sweeps.db")}"), CodeAndError("sweep", "status", "--store", "stores"));
    }

    [SkippableFact]
    public void AReadOnlyStoreNamesTheFileAndWhatToDo()
    {
        Skip.If(!OperatingSystem.IsLinux() || Environment.UserName == "root", "root writes read-only files (the message itself is checked in SqliteErrorsNameTheStoreFile)");
        var path = Path.Combine(_dir.FullName, "readonly.db");
        Rebased.Experiments.RunStore.Open(path).Dispose();
        if (OperatingSystem.IsLinux()) File.SetUnixFileMode(path, UnixFileMode.UserRead);
        var (code, error) = CodeAndError("sweep", "status", "--store", path);
        Assert.Equal(1, code);
        Assert.StartsWith($"error: {path}: ", error);
    }

    [Theory]
    [InlineData(8, "/x/s.db: the results store is read-only: make the file and its folder writable (SQLite writes -wal and -shm files beside it), or give --store a writable copy")]
    [InlineData(14, "/x/s.db: cannot open the results store: check that its folder exists and is writable, or give --store another path")]
    [InlineData(26, "/x/s.db is not a SQLite database, so not a results store: give --store a new file or an existing store")]
    public void SqliteErrorsNameTheStoreFile(int code, string expected) =>
        Assert.Equal(expected, Rebased.Experiments.SqliteRunStore.Explain("/x/s.db", new Microsoft.Data.Sqlite.SqliteException("sqlite says", code)).Message);

    [Fact]
    public void LevenshteinCountsEdits()
    {
        Assert.Equal(1, Rebased.Configs.ClosestName.Distance("--dryrun", "--dry-run"));
        Assert.Equal(3, Rebased.Configs.ClosestName.Distance("kitten", "sitting"));
        Assert.Equal(0, Rebased.Configs.ClosestName.Distance("", ""));
    }
}
