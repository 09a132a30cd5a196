namespace Rebased.Training;

/// <summary>How an optimizer step's examples are split into micro-batches with gradient accumulation.</summary>
public readonly record struct MicroBatchPlan(int MicroBatchSize, int AccumulationSteps)
{
    public int EffectiveBatchSize => MicroBatchSize * AccumulationSteps;

    /// <summary>
    /// The reference's memory rule (<c>update_sequence_mixer</c>): for L ≥ 512 and a batch above 64 the
    /// loader batch becomes 256 // (L / 512) with batch // that many accumulation steps, when that is
    /// smaller than the batch (L = 512: 256 × 2, 1024: 128 × 4, 2048: 64 × 8 for batch 512).
    /// Otherwise the batch is used whole, with the configured accumulation steps.
    /// </summary>
    public static MicroBatchPlan ForReference(int batchSize, int seqLen, int configuredAccumulation = 1)
    {
        if (seqLen >= 512 && batchSize > 64)
        {
            int maxBatch = 256 / (seqLen / 512);
            if (maxBatch < batchSize) return new MicroBatchPlan(Math.Max(1, maxBatch), batchSize / Math.Max(1, maxBatch));
        }
        return new MicroBatchPlan(batchSize, configuredAccumulation);
    }

    /// <summary>Optimizer steps in an epoch of <paramref name="microBatches"/> loader batches: leftovers that do not fill a step are dropped, as the reference's zero_grad at epoch end does.</summary>
    public int StepsPerEpoch(int microBatches) => microBatches / AccumulationSteps;
}
