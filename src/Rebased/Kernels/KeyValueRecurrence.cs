namespace Rebased.Kernels;

/// <summary>
/// A causal recurrence with a Dk×Dv state per batch and head that k and v write under a per-token input (GLA's log
/// decay, the delta rule's write strength β) and q reads: q, k [B, H, T, Dk], v [B, H, T, Dv], the per-token input
/// [B, H, T, …]; returns o [B, H, T, Dv] in the dtype of v, differentiable in all four inputs.
/// </summary>
public interface IKeyValueRecurrence : IKernelForm
{
    Tensor Forward(Tensor q, Tensor k, Tensor v, Tensor perToken, double scale);
}

/// <summary>A family's q, k, v and per-token input at <paramref name="shape"/>, made in that order from draws of
/// <paramref name="normal"/> (standard normal values of the given dimensions).</summary>
public delegate Tensor[] KeyValueInputs(Func<long[], Tensor> normal, KeyValueShape shape);

/// <summary>The check and the timing of the forms of a key-value recurrence family, each on the family's inputs.</summary>
public static class KeyValueRecurrence
{
    /// <summary>Forms whose estimated autograd memory at a shape exceeds this are skipped by <see cref="Measure"/>.</summary>
    public static long MemoryBudgetBytes { get; set; } = 8L << 30;

    /// <summary>
    /// <paramref name="form"/> against <paramref name="reference"/> in float64 with scale Dk^−½: the output and the
    /// gradients of q, k, v and the per-token input (named <paramref name="perTokenGradient"/>).
    /// </summary>
    public static FormCheckResult Check(IKeyValueRecurrence form, IKeyValueRecurrence reference, KeyValueInputs inputs, string perTokenGradient,
        KeyValueShape shape, string caseName, bool headSplit, Device device, ScalarType dtype, long seed)
    {
        using var scope = NewDisposeScope();
        // Drawn on the CPU in float64 (TorchSharp's seeded generator is a CPU one), then moved.
        var generator = new Generator((ulong)seed);
        Tensor Normal(long[] dims) => randn(dims, ScalarType.Float64, generator: generator).to(device);
        var x = inputs(Normal, shape);
        var outputGradient = Normal([shape.B, shape.H, shape.T, shape.Dv]);
        double scale = 1.0 / Math.Sqrt(shape.Dk);
        return FormCheck.Compare(form.Name, caseName,
            t => form.Forward(t[0], t[1], t[2], t[3], scale), t => reference.Forward(t[0], t[1], t[2], t[3], scale),
            x, outputGradient, ["o", "dq", "dk", "dv", perTokenGradient], dtype, headSplit);
    }

    /// <summary>Times the forms at one shape (forward, and forward+backward through all four inputs) with <see cref="FormTimer"/>.</summary>
    public static List<FormTiming> Measure<TForm>(IReadOnlyList<TForm> forms, KeyValueInputs inputs, Func<TForm, KeyValueShape, long> estimatedBytes,
        KeyValueShape shape, Device device, ScalarType dtype, TimeSpan budgetPerForm, int backToBack = 1) where TForm : IKeyValueRecurrence
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(17);
        Tensor Normal(long[] dims) => randn(dims, dtype, generator: generator).to(device);
        var x = inputs(Normal, shape);
        var dy = Normal([shape.B, shape.H, shape.T, shape.Dv]);
        double scale = 1.0 / Math.Sqrt(shape.Dk);
        var timed = forms.Select(form => TimedForm.OfForward(form.Name, estimatedBytes(form, shape), MemoryBudgetBytes,
            t => form.Forward(t[0], t[1], t[2], t[3], scale), x, dy)).ToList();
        return FormTimer.Measure(timed, device, budgetPerForm, backToBack);
    }
}
