using System.Globalization;
using Rebased.Models;
using Rebased.Native;

namespace Rebased.Cli.Commands;

public sealed class ParityCommand : Command<ParityCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--fixture <DIR>")]
        [Description("Fixture folder: manifest.json, model.safetensors, batch.safetensors, outputs and gradients.")]
        public string? Fixture { get; init; }

        [CommandOption("--device <DEVICE>")]
        [Description("Where to run the model: cpu (default), cuda, cuda:N.")]
        public string Device { get; init; } = "cpu";

        public override Spectre.Console.ValidationResult Validate() =>
            string.IsNullOrEmpty(Fixture) ? Spectre.Console.ValidationResult.Error("--fixture DIR is required") : Spectre.Console.ValidationResult.Success();
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellation)
    {
        TorchRuntime.EnsureLoaded();
        var fixture = ParityFixture.Load(settings.Fixture!);
        var results = Parity.Run(fixture, ParseDevice(settings.Device));
        foreach (var result in results)
        {
            var prefix = results.Count > 1 ? $"[{result.Target.Label}] " : "";
            Console.WriteLine($"{prefix}logits          rel {Format(result.Logits)}");
            Console.WriteLine($"{prefix}loss            rel {Format(result.Loss)}");
            Console.WriteLine($"{prefix}worst gradient  rel {Format(result.WorstGradient)}  {result.WorstGradient.Name}");
        }
        var failed = results.Where(r => !r.Passed).ToList();
        if (failed.Count == 0)
        {
            Console.WriteLine("parity: PASS");
            return ExitCodes.Ok;
        }
        var worst = failed.Select(r => (r.Target, Error: r.Worst)).MaxBy(x => x.Error.Ratio);
        Console.WriteLine($"parity: FAIL worst {worst.Error.Name}{(results.Count > 1 ? $" [{worst.Target.Label}]" : "")} rel {Format(worst.Error)}");
        return ExitCodes.Failure;
    }

    private static TorchSharp.torch.Device ParseDevice(string name)
    {
        var parts = name.Split(':');
        bool indexed = parts.Length == 2 && int.TryParse(parts[1], out _);
        if (parts[0] == "cpu" && parts.Length == 1) return TorchSharp.torch.CPU;
        if (parts[0] != "cuda" || (parts.Length == 2 && !indexed) || parts.Length > 2)
            throw new UserError($"--device '{name}': expected cpu, cuda or cuda:N");
        if (!TorchSharp.torch.cuda.is_available()) throw new UserError($"--device {name}: CUDA is not available (run `rebased info`)");
        return TorchSharp.torch.device(name);
    }

    private static string Format(TensorError e) =>
        string.Create(CultureInfo.InvariantCulture, $"{e.Relative:0.000e+00} (tol {e.Tolerance:0e+00})");
}
