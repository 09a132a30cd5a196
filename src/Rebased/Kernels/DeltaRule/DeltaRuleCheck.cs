namespace Rebased.Kernels.DeltaRule;

/// <summary>
/// One correctness case: shapes, with q and k L2-normalised and β = sigmoid(x), as the DeltaNet mixer makes them.
/// With <paramref name="HeadSplit"/> the inputs are [B, H, T, W] views of dense [B, T, H, W] tensors.
/// </summary>
public sealed record DeltaRuleCase(long B, long H, long T, long Dk, long Dv, bool HeadSplit = false)
{
    public double Scale => 1.0 / Math.Sqrt(Dk);

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

    public static FormCheckResult Run(IDeltaRule form, DeltaRuleCase c, Device device, ScalarType dtype, long seed)
    {
        using var scope = NewDisposeScope();
        // Drawn on the CPU in float64 (TorchSharp's seeded generator is a CPU one), then moved.
        var generator = new Generator((ulong)seed);
        Tensor Random(params long[] shape) => randn(shape, ScalarType.Float64, generator: generator).to(device);
        var q = nn.functional.normalize(Random(c.B, c.H, c.T, c.Dk), dim: -1);
        var k = nn.functional.normalize(Random(c.B, c.H, c.T, c.Dk), dim: -1);
        var v = Random(c.B, c.H, c.T, c.Dv);
        var beta = Random(c.B, c.H, c.T).sigmoid();
        var outputGradient = Random(c.B, c.H, c.T, c.Dv);
        var reference = new DeltaRuleRecurrent();
        return FormCheck.Compare(form.Name, c.ToString(),
            x => form.Forward(x[0], x[1], x[2], x[3], c.Scale), x => reference.Forward(x[0], x[1], x[2], x[3], c.Scale),
            [q, k, v, beta], outputGradient, ["o", "dq", "dk", "dv", "dbeta"], dtype, c.HeadSplit);
    }
}
