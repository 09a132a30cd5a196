namespace Rebased.Cli.Commands;

/// <summary>The device of the kernel benchmarks (`bench kernels`, `bench scans`): the CPU or the CUDA device.</summary>
public class BenchDeviceSettings : CommandSettings
{
    [CommandOption("--device <DEVICE>")]
    [Description("cpu or cuda (default cpu)")]
    [DefaultValue("cpu")]
    public string Device { get; init; } = "cpu";

    public override ValidationResult Validate() =>
        Device is "cpu" or "cuda" ? ValidationResult.Success() : ValidationResult.Error($"--device '{Device}' must be cpu or cuda");
}
