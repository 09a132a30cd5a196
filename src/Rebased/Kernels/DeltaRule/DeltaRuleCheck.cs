namespace Rebased.Kernels.DeltaRule;

/// <summary>
/// One correctness case: shapes, with q and k L2-normalised and β = sigmoid(x), as the DeltaNet mixer makes them.
/// With <paramref name="HeadSplit"/> the inputs are [B, H, T, W] views of dense [B, T, H, W] tensors.
/// </summary>
public sealed record DeltaRuleCase(long B, long H, long T, long Dk, long Dv, bool HeadSplit = false)
{
    public KeyValueShape Shape => new(B, H, T, Dk, Dv);

    public override string ToString() => $"B={B} H={H} T={T} Dk={Dk} Dv={Dv}{(HeadSplit ? " head-split views" : "")}";
}

/// <summary>Checks a delta-rule form against the recurrent form in float64: output and the gradients of q, k, v and β.</summary>
public static class DeltaRuleCheck
{
    /// <summary>T = 1, T below, at and past one chunk, and not a multiple of the chunk; head-split views.</summary>
    public static IReadOnlyList<DeltaRuleCase> CoveringCases { get; } =
    [
        new(2, 3, 1, 4, 3),
        new(2, 3, 7, 8, 5),
        new(1, 2, 64, 16, 16),
        new(2, 2, 100, 16, 32),
        new(1, 4, 333, 32, 16, HeadSplit: true),
        new(2, 4, 257, 16, 64, HeadSplit: true),
    ];

    public static FormCheckResult Run(IDeltaRule form, DeltaRuleCase c, Device device, ScalarType dtype, long seed) =>
        KeyValueRecurrence.Check(form, new DeltaRuleRecurrent(), DeltaRuleForms.Inputs, "dbeta", c.Shape, c.ToString(), c.HeadSplit, device, dtype, seed);
}
