using System.Reflection;

namespace Rebased.Experiments;

/// <summary>
/// The command line of one training run: `rebased train --config BASE --set key=value … [--device D] --run-dir DIR`,
/// or `rebased train [--device D] --resume DIR` to continue from the run directory's checkpoint (the directory
/// holds the resolved config). The program defaults to the running `rebased`; the environment variable
/// REBASED_TRAIN_COMMAND replaces it (e.g. a wrapper script or a container launcher; words split on spaces).
/// </summary>
public sealed class TrainerCommand(IReadOnlyList<string> program)
{
    public const string EnvironmentVariable = "REBASED_TRAIN_COMMAND";
    /// <summary>A trainer's exit code after a signal stopped it and it wrote its checkpoint (128 + SIGINT, as shells report Ctrl-C).</summary>
    public const int InterruptedExitCode = 130;

    public IReadOnlyList<string> Program { get; } = program.Count > 0 ? program : throw new ArgumentException("empty trainer command");

    public static TrainerCommand FromEnvironmentOrSelf()
    {
        var custom = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(custom)) return new TrainerCommand(custom.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        return new TrainerCommand([.. SelfCommand(), "train"]);
    }

    /// <summary>How to start this program again: its executable, or `dotnet Rebased.Cli.dll` under `dotnet`.</summary>
    public static IReadOnlyList<string> SelfCommand()
    {
        var process = Environment.ProcessPath ?? throw new InvalidOperationException("cannot tell this program's path");
        var entry = Assembly.GetEntryAssembly()?.Location;
        return Path.GetFileNameWithoutExtension(process) == "dotnet" && !string.IsNullOrEmpty(entry) ? [process, entry] : [process];
    }

    public IReadOnlyList<string> Arguments(RunRecord run, string? device, bool resume)
    {
        var args = new List<string>(Program.Skip(1));
        if (!resume)
        {
            args.AddRange(["--config", run.BaseConfigPath]);
            foreach (var (key, value) in run.Overrides) args.AddRange(["--set", $"{key}={ConfigTree.FormatScalar(value)}"]);
        }
        if (device is not null) args.AddRange(["--device", device]);
        args.AddRange(resume ? ["--resume", run.RunDir] : ["--run-dir", run.RunDir]);
        return args;
    }
}
