using Rebased.Kernels;
using Rebased.Kernels.CrossEntropy;
using Rebased.Models;

namespace Rebased.Training;

/// <summary>
/// Cross-entropy and accuracy at the supervised positions only: the hidden states are gathered at the
/// batch's flat supervised indices before the vocabulary projection, so logits are computed for B·K rows
/// instead of B·L. Equal to the reference's full computation (CE with ignore_index −100, mean over the
/// non-ignored positions; argmax accuracy over them).
/// </summary>
public static class SupervisedLoss
{
    /// <summary>Hidden states [B·K, d] at the supervised positions.</summary>
    public static Tensor SupervisedHidden(TrainingModel model, SupervisedBatch batch)
    {
        var hidden = model.Hidden(batch.Inputs);
        return hidden.reshape(-1, hidden.shape[^1]).index_select(0, batch.SupervisedIndex);
    }

    /// <summary>Logits [B·K, V] at the supervised positions.</summary>
    public static Tensor SupervisedLogits(TrainingModel model, SupervisedBatch batch) =>
        model.Logits(SupervisedHidden(model, batch));

    public static Tensor Loss(Tensor supervisedLogits, Tensor targets) =>
        nn.functional.cross_entropy(supervisedLogits, targets);

    /// <summary>Number of supervised positions whose argmax equals the target (an int64 scalar on the device).</summary>
    public static Tensor Correct(Tensor supervisedLogits, Tensor targets) =>
        supervisedLogits.argmax(-1).eq(targets).sum();
}
