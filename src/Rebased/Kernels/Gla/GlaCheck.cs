namespace Rebased.Kernels.Gla;

/// <summary>
/// One correctness case: shapes, and the gate normaliser n of g = logsigmoid(x)/n (16 as the GLA mixer; small n
/// is strong decay, which stresses the chunked form's rescaling). With <paramref name="HeadSplit"/> the inputs
/// are [B, H, T, W] views of dense [B, T, H, W] tensors, as the mixer passes them.
/// </summary>
public sealed record GlaCase(long B, long H, long T, long Dk, long Dv, double GateNormalizer = 16, bool HeadSplit = false)
{
    public KeyValueShape Shape => new(B, H, T, Dk, Dv);

    public override string ToString() =>
        $"B={B} H={H} T={T} Dk={Dk} Dv={Dv} gate/{GateNormalizer}{(HeadSplit ? " head-split views" : "")}";
}

/// <summary>Checks a GLA form against the recurrent form in float64: output and the gradients of q, k, v and g.</summary>
public static class GlaCheck
{
    /// <summary>T = 1, T below, at and past one chunk, and not a multiple of the chunk; weak and strong decay; head-split views.</summary>
    public static IReadOnlyList<GlaCase> CoveringCases { get; } =
    [
        new(2, 3, 1, 4, 3),
        new(2, 3, 7, 8, 5),
        new(1, 2, 64, 16, 16),
        new(2, 2, 100, 16, 32, GateNormalizer: 1),
        new(1, 2, 130, 8, 8, GateNormalizer: 0.1),
        new(1, 4, 333, 32, 16, HeadSplit: true),
        new(2, 4, 257, 16, 64, GateNormalizer: 1, HeadSplit: true),
    ];

    public static FormCheckResult Run(IGatedLinearAttention form, GlaCase c, Device device, ScalarType dtype, long seed) =>
        KeyValueRecurrence.Check(form, new GlaRecurrent(), GlaForms.Inputs(c.GateNormalizer), "dg", c.Shape, c.ToString(), c.HeadSplit, device, dtype, seed);
}
