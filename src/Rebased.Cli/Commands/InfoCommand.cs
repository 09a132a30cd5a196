using Rebased.Kernels.CrossEntropy;
using Rebased.Kernels.Normalization;
using Rebased.Native;
using TorchSharp;

namespace Rebased.Cli.Commands;

public sealed class InfoCommand : Command<InfoCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--check-device")]
        [System.ComponentModel.Description("Also compute a matmul and its gradient, and the fused cross-entropy and layer-norm kernels, on every CUDA device and compare with the CPU.")]
        public bool CheckDevice { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellation)
    {
        var table = new Table().NoBorder().HideHeaders().AddColumn("key").AddColumn("value");
        foreach (var (key, value) in TorchRuntime.Describe()) table.AddRow(Markup.Escape(key), Markup.Escape(value));
        AnsiConsole.Write(table);
        if (!settings.CheckDevice) return ExitCodes.Ok;
        var checks = TorchRuntime.CheckDevices();
        if (checks.Count == 0) AnsiConsole.WriteLine("device check: no CUDA device to compare with the CPU");
        bool ok = true;
        foreach (var (device, diff) in checks)
        {
            bool pass = diff < 1e-9;
            ok &= pass;
            AnsiConsole.WriteLine($"device check {device}: max |cuda - cpu| = {diff:E2} (float64 matmul + tanh gradient) {(pass ? "PASS" : "FAIL")}");
            var (loss, gradient) = SoftmaxCrossEntropyCheck.Compare(SoftmaxCrossEntropy.Fused, torch.device(device));
            pass = loss < 1e-6 && gradient < 1e-6;
            ok &= pass;
            AnsiConsole.WriteLine($"device check {device}: fused softmax cross-entropy vs float64 autograd, relative error loss {loss:E2}, gradient {gradient:E2} {(pass ? "PASS" : "FAIL")}");
            var (y, dx, dweight, dbias) = LayerNormCheck.Compare(LayerNormForms.Fused, torch.device(device));
            pass = Math.Max(Math.Max(y, dx), Math.Max(dweight, dbias)) < 1e-5;
            ok &= pass;
            AnsiConsole.WriteLine($"device check {device}: fused layer norm vs float64 autograd, relative error y {y:E2}, dx {dx:E2}, dweight {dweight:E2}, dbias {dbias:E2} {(pass ? "PASS" : "FAIL")}");
        }
        return ok ? ExitCodes.Ok : ExitCodes.Failure;
    }
}
