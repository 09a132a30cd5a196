using Rebased.Cli;
using Rebased.Cli.Commands;

bool verbose = args.Contains("--verbose");
var app = new CommandApp();
app.Configure(config =>
{
    config.SetApplicationName("rebased");
    config.PropagateExceptions();
    config.UseStrictParsing();
    config.SetInterceptor(new OptionRanges());
    config.SetApplicationVersion(Cli.Version);
    config.AddExample("train", "--config", "configs/simple_mqar.yaml");
    config.AddExample("sweep", "configs/cpu_sweep.yaml", "--dry-run");
    config.AddExample("--version");
    config.AddExample("COMMAND", "--verbose   (any command: errors with their stack trace)");
    config.AddCommand<InfoCommand>("info").WithDescription("Show .NET, TorchSharp, libtorch and CUDA facts: the first thing to run when something fails.");
    config.AddBranch("data", data =>
    {
        data.SetDescription("Generate task data.");
        foreach (var task in Rebased.Data.DataTasks.All)
            data.AddCommand<DataCommand>(task.CommandName).WithDescription(task.Summary).WithData(task);
    });
    config.AddCommand<TrainCommand>("train").WithDescription("Train one run from a config (the reference's YAML) into a run directory; --resume continues one.");
    config.AddCommand<ParityCommand>("parity").WithDescription("Compare forward and backward of a model with a reference fixture (exit 0 only when within tolerance).");
    config.AddBranch("sweep", sweep =>
    {
        sweep.SetDescription("Run a grid sweep (W&B sweep YAML) with a results store; re-run to resume.");
        sweep.AddCommand<SweepCommand>("run").WithDescription("Run a sweep file's runs here (also: `rebased sweep FILE ...`).");
        sweep.AddCommand<SweepStatusCommand>("status").WithDescription("Counts and a table of a store's runs.");
        sweep.AddCommand<SweepWorkerCommand>("worker").WithDescription("Claim and run a store's runs until none are left (for schedulers).");
        sweep.AddCommand<SweepExportCommand>("export").WithDescription("Add a store's finished runs to a runs file (JSON lines) that goes into the repository.");
        sweep.AddCommand<SweepImportCommand>("import").WithDescription("Put a runs file's finished runs into a store, so that their sweep skips them there.");
    });
    config.AddBranch("report", report =>
    {
        report.SetDescription("Figure 1 and its tables from a store (`rebased report [[figure]]`), accuracy against state size (`rebased report state-size`), or learning curves against the reference (`rebased report curves`).");
        report.AddCommand<ReportCommand>("figure").WithDescription("Figure 1 (PNG), its numbers (Markdown, CSV) and a Table-1 summary from a store (also: `rebased report ...`).");
        report.AddCommand<ReportStateSizeCommand>("state-size").WithDescription("Valid accuracy against each model's recurrent state size (PNG, CSV), per sweep.");
        report.AddCommand<ReportCurvesCommand>("curves").WithDescription("Our runs' valid accuracy per epoch against the reference trainer's, and curves.json.");
    });
    config.AddBranch("bench", bench =>
    {
        bench.SetDescription("Benchmarks printed as tables (and optionally JSON).");
        bench.AddCommand<BenchKernelsCommand>("kernels").WithDescription("Time (or --check) every form of linear attention (or --family gla, delta) that supports the device and dtype.");
        bench.AddCommand<BenchScansCommand>("scans").WithDescription("Time (or --check) every WKV and selective-scan form that runs on the device.");
        bench.AddCommand<BenchTrainCommand>("train").WithDescription("Milliseconds per optimizer step, tokens/s and peak GPU memory of MQAR training.");
    });
});

var commandLine = args.Where(a => a != "--verbose").ToArray();
try
{
    return app.Run(ReportCommand.WithExplicitFigure(SweepCommand.WithExplicitRun(commandLine)));
}
catch (Exception e) when (OptionErrors.DescribeUsageError(e, commandLine) is { } message)
{
    Cli.Error(message, e, verbose);
    return ExitCodes.Usage;
}
catch (Exception e) when (e is CommandParseException or CommandConfigurationException or CommandRuntimeException)
{
    Cli.Error(e, verbose);
    return ExitCodes.Usage;
}
catch (Exception e)
{
    Cli.Error(e, verbose);
    return ExitCodes.Failure;
}
