namespace Rebased.Kernels.LinearAttention;

/// <summary>
/// One correctness case: shapes and kernel of the op; with <paramref name="HeadSplit"/>, q, k and v are passed as
/// the mixers pass them: [B, H, T, W] views of dense [B, T, H, W] tensors.
/// </summary>
public sealed record LinearAttentionCase(long B, long H, long T, long D, long Dv, PolynomialKernel Kernel, double Eps = 1e-5, bool HeadSplit = false)
{
    public double Scale => 1.0 / Math.Sqrt(D);

    public override string ToString() =>
        $"{Kernel.ToString().ToLowerInvariant()} B={B} H={H} T={T} D={D} Dv={Dv}{(HeadSplit ? " head-split views" : "")}";
}

/// <summary>Errors of the output and the three gradients (<see cref="LinearAttentionCheck.Run"/>); NaN fields with <paramref name="Skipped"/> mean skipped.</summary>
public sealed record LinearAttentionCheckResult(string Form, LinearAttentionCase Case, double Tolerance,
    double Y, double Dq, double Dk, double Dv, string? Skipped = null)
{
    public double Worst => Math.Max(Math.Max(Y, Dq), Math.Max(Dk, Dv));
    public bool Passed => Skipped != null || Worst <= Tolerance;
}

/// <summary>
/// Checks a form against the masked quadratic form evaluated in float64 on the same (dtype-rounded) random
/// inputs: output and the gradients of Σ y·g for a random g. Each error is ‖ours − ref‖ / max(‖ref‖, s/√T), where
/// s is the norm the tensor has by homogeneity when nothing cancels: y is of degree 0 in q and k and 1 in v, so
/// s_y = ‖v‖, s_dv = ‖g‖, s_dq = ‖g‖‖v‖/‖q‖, s_dk = ‖g‖‖v‖/‖k‖ (1/√T: y is an average over up to T tokens). It is
/// the relative error except for tensors that are analytically near zero (dq and dk at T = 1, where y ≈ v).
/// </summary>
public static class LinearAttentionCheck
{
    /// <summary>A small covering set: every T in {1, 7, 64, 333, 1000, 2048}, D in {4, 16, 32, 128}, Dv in {1, 5, 42, 64, 256} and both kernels appear; the last case's dq and dk are analytically zero (T = 1, eps → 0).</summary>
    public static IReadOnlyList<LinearAttentionCase> CoveringCases { get; } =
    [
        new(2, 3, 1, 4, 1, PolynomialKernel.Rebased),
        new(2, 3, 7, 16, 5, PolynomialKernel.Based),
        new(2, 2, 64, 32, 42, PolynomialKernel.Rebased),
        new(1, 1, 333, 128, 64, PolynomialKernel.Based),
        new(1, 1, 333, 16, 5, PolynomialKernel.Rebased, Eps: 1e-12),
        new(1, 2, 1000, 16, 256, PolynomialKernel.Rebased),
        new(1, 2, 2048, 16, 42, PolynomialKernel.Based),
        new(1, 1, 2048, 4, 1, PolynomialKernel.Rebased),
        new(3, 12, 48, 16, 2, PolynomialKernel.Rebased),
        new(3, 12, 48, 16, 10, PolynomialKernel.Rebased, HeadSplit: true),
        new(2, 4, 333, 16, 8, PolynomialKernel.Based, HeadSplit: true),
        new(1, 3, 130, 32, 64, PolynomialKernel.Rebased, HeadSplit: true),
        new(1, 12, 200, 16, 21, PolynomialKernel.Based, HeadSplit: true),
        new(2, 3, 1, 16, 8, PolynomialKernel.Rebased, Eps: 1e-12),
    ];

    /// <summary>Tolerance on the relative error: 1e-5 for fp32/fp64, 2e-2 for 16-bit types.</summary>
    public static double Tolerance(ScalarType dtype) => dtype is ScalarType.BFloat16 or ScalarType.Float16 ? 2e-2 : 1e-5;

    /// <summary>The recurrent form keeps one F×Dv state per step for autograd: only small cases are run.</summary>
    private const long RecurrentStateBudget = 20_000_000;

    /// <summary>Whether the case is run for this form (the token loop of the recurrent form only on small cases).</summary>
    public static bool Applies(ILinearAttention form, LinearAttentionCase c) =>
        form is not Recurrent || c.B * c.H * c.T * FeatureMap.Features(c.Kernel, c.D) * c.Dv <= RecurrentStateBudget;

    public static LinearAttentionCheckResult Run(ILinearAttention form, LinearAttentionCase c, Device device, ScalarType dtype, long seed)
    {
        double tolerance = Tolerance(dtype);
        if (!Applies(form, c))
            return new(form.Name, c, tolerance, double.NaN, double.NaN, double.NaN, double.NaN, "state too large for the token loop's autograd");

        using var scope = NewDisposeScope();
        // Drawn on the CPU (TorchSharp's seeded generator is a CPU one), then moved: the same inputs on every device.
        var generator = new Generator((ulong)seed);
        Tensor Random(params long[] shape) => randn(shape, ScalarType.Float64, generator: generator).to(dtype).to(ScalarType.Float64).to(device);
        var q = Random(c.B, c.H, c.T, c.D);
        var k = Random(c.B, c.H, c.T, c.D);
        var v = Random(c.B, c.H, c.T, c.Dv);
        var g = Random(c.B, c.H, c.T, c.Dv);

        var reference = Evaluate(new Naive(), q, k, v, g, c, ScalarType.Float64);
        var ours = Evaluate(form, q, k, v, g, c, dtype);
        double Norm(Tensor x) => x.norm().item<double>();
        double perToken = 1 / Math.Sqrt(c.T);
        double[] scales = [Norm(v) * perToken, Norm(g) * Norm(v) / Norm(q) * perToken, Norm(g) * Norm(v) / Norm(k) * perToken, Norm(g) * perToken];
        double Error(int i) => TensorErrors.Scaled(ours[i], reference[i], scales[i]);
        return new(form.Name, c, tolerance, Error(0), Error(1), Error(2), Error(3));
    }

    /// <summary>y, dq, dk, dv in float64 for inputs cast to <paramref name="dtype"/>.</summary>
    private static Tensor[] Evaluate(ILinearAttention form, Tensor q, Tensor k, Tensor v, Tensor g, LinearAttentionCase c, ScalarType dtype)
    {
        // Head-split views: the leaves are dense [B, T, H, W]; the form sees their [B, H, T, W] transposes.
        Tensor Leaf(Tensor x) => (c.HeadSplit ? x.transpose(1, 2).contiguous() : x).to(dtype).detach().requires_grad_();
        Tensor AsInput(Tensor leaf) => c.HeadSplit ? leaf.transpose(1, 2) : leaf;
        Tensor Gradient(Tensor leaf) => AsInput(leaf.grad!).to(ScalarType.Float64);
        var (qd, kd, vd) = (Leaf(q), Leaf(k), Leaf(v));
        var y = form.Forward(AsInput(qd), AsInput(kd), AsInput(vd), c.Kernel, c.Scale, c.Eps);
        (y.to(ScalarType.Float64) * g).sum().backward();
        return [y.detach().to(ScalarType.Float64), Gradient(qd), Gradient(kd), Gradient(vd)];
    }
}
