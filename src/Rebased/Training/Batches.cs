namespace Rebased.Training;

/// <summary>
/// One loader batch as the loop needs it: token ids [B, L], the flat indices (into B·L) of the supervised
/// positions [B·K] and their targets [B·K]. Only those positions get logits.
/// </summary>
public sealed record SupervisedBatch(Tensor Inputs, Tensor SupervisedIndex, Tensor Targets)
{
    public long Rows => Inputs.shape[0];
    public long Tokens => Inputs.shape[0] * Inputs.shape[1];
}

/// <summary>A deterministic sequence of batches per epoch (the order may depend on the epoch, never on history).</summary>
public interface IBatchSource
{
    int BatchesPerEpoch { get; }
    SupervisedBatch Batch(int epoch, int index);
}

/// <summary>
/// The model as the loop uses it: its parameters, the hidden states, and the output projection's weight
/// [V, d] (logits = hidden · Wᵀ, no bias; the token embedding for the tied language models).
/// </summary>
public sealed record TrainingModel(nn.Module Module, Func<Tensor, Tensor> Hidden, Tensor HeadWeight)
{
    public Tensor Logits(Tensor hidden) => nn.functional.linear(hidden, HeadWeight);
    public long ParameterCount() => Module.parameters().Sum(p => p.numel());
}
