using Rebased.Modules;
using TorchSharp.Modules;

namespace Rebased.Models;

/// <summary>
/// The reference's initialisation. Its <c>_init_weights</c>, applied to every module (children first): Linear
/// weight ~ N(0, 0.02) and bias 0, Embedding ~ N(0, 0.02); then every parameter of that module whose name contains
/// out_proj.weight or fc2.weight ~ N(0, 0.02/√(2·n_layers)). Conv1d and LayerNorm keep PyTorch's defaults from
/// construction (U(±1/√fan_in); γ = 1, β = 0). Modules marked <see cref="IInitialisesItself"/> are skipped.
/// <para>
/// The reference applies it twice (at the end of the backbone's constructor, then from the language model's, after
/// building a separate head Linear that is tied afterwards). Every draw is repeated here in the same order, so with
/// the same seed of the default CPU generator a model built here starts from the reference's exact values.
/// </para>
/// </summary>
public static class ReferenceInitialisation
{
    public const double Std = 0.02;

    public static void Apply(LanguageModel model, int nLayers, int vocabSize, int dModel)
    {
        using var noGrad = no_grad();
        double residualStd = Std / Math.Sqrt(2.0 * nLayers);
        Visit(model.Backbone, residualStd);
        // The reference's own head Linear: default-initialised, then re-drawn by the second pass, then replaced by the tie.
        using var head = empty(vocabSize, dModel);
        nn.init.kaiming_uniform_(head, Math.Sqrt(5));
        Visit(model.Backbone, residualStd);
        nn.init.normal_(head, 0.0, Std);
        RescaleResidualOutputs(model, residualStd);
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
        }
        RescaleResidualOutputs(module, residualStd);
    }

    private static void RescaleResidualOutputs(nn.Module module, double residualStd)
    {
        foreach (var (name, p) in module.named_parameters())
            if (name.Contains("out_proj.weight") || name.Contains("fc2.weight"))
                nn.init.normal_(p, 0.0, residualStd);
    }
}
