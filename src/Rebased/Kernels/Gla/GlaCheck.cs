namespace Rebased.Kernels.Gla;

/// <summary>
/// One correctness case: shapes, and the gate normaliser n of g = logsigmoid(x)/n (16 as the GLA mixer; small n
/// is strong decay, which stresses the chunked form's rescaling). With <paramref name="HeadSplit"/> the inputs
/// are [B, H, T, W] views of dense [B, T, H, W] tensors, as the mixer passes them.
/// </summary>
public sealed record GlaCase(long B, long H, long T, long Dk, long Dv, double GateNormalizer = 16, bool HeadSplit = false)
{
    public double Scale => 1.0 / Math.Sqrt(Dk);

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

    public static FormCheckResult Run(IGatedLinearAttention form, GlaCase c, Device device, ScalarType dtype, long seed)
    {
        using var scope = NewDisposeScope();
        // Drawn on the CPU in float64 (TorchSharp's seeded generator is a CPU one), then moved.
        var generator = new Generator((ulong)seed);
        Tensor Random(params long[] shape) => randn(shape, ScalarType.Float64, generator: generator).to(device);
        var q = Random(c.B, c.H, c.T, c.Dk);
        var k = Random(c.B, c.H, c.T, c.Dk);
        var v = Random(c.B, c.H, c.T, c.Dv);
        var g = nn.functional.logsigmoid(Random(c.B, c.H, c.T, c.Dk)) / c.GateNormalizer;
        var outputGradient = Random(c.B, c.H, c.T, c.Dv);
        var reference = new GlaRecurrent();
        return FormCheck.Compare(form.Name, c.ToString(),
            x => form.Forward(x[0], x[1], x[2], x[3], c.Scale), x => reference.Forward(x[0], x[1], x[2], x[3], c.Scale),
            [q, k, v, g], outputGradient, ["o", "dq", "dk", "dv", "dg"], dtype, c.HeadSplit);
    }
}
