using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Rebased.Models;

/// <summary>
/// The reference's <c>_init_weights</c>, applied to every module: Linear weight ~ N(0, 0.02) and bias 0,
/// Embedding ~ N(0, 0.02); then every parameter whose name contains out_proj.weight or fc2.weight ~
/// N(0, 0.02/√(2·n_layers)). Conv1d keeps PyTorch's default U(±1/√fan_in) for weight and bias (set here
/// explicitly), LayerNorm keeps γ = 1, β = 0. Modules marked <see cref="IInitialisesItself"/> are skipped.
/// </summary>
public static class ReferenceInitialisation
{
    public const double Std = 0.02;

    public static void Apply(nn.Module root, int nLayers)
    {
        using var noGrad = no_grad();
        Visit(root, Std / Math.Sqrt(2.0 * nLayers));
    }

    private static void Visit(nn.Module module, double residualStd)
    {
        if (module is IInitialisesItself) return;
        foreach (var (_, child) in module.named_children()) Visit(child, residualStd);
        switch (module)
        {
            case Linear linear:
                nn.init.normal_(linear.weight!, 0.0, Std);
                if (linear.bias is { } bias) nn.init.zeros_(bias);
                break;
            case Embedding embedding:
                nn.init.normal_(embedding.weight!, 0.0, Std);
                break;
            case Conv1d conv:
                double bound = 1.0 / Math.Sqrt(conv.weight!.shape[1] * conv.weight.shape[2]);
                nn.init.uniform_(conv.weight, -bound, bound);
                if (conv.bias is { } convBias) nn.init.uniform_(convBias, -bound, bound);
                break;
        }
        foreach (var (name, p) in module.named_parameters())
            if (name.Contains("out_proj.weight") || name.Contains("fc2.weight"))
                nn.init.normal_(p, 0.0, residualStd);
    }
}
