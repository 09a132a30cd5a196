namespace Rebased.Kernels;

/// <summary>Relative errors ‖ours − ref‖/‖ref‖ of a form's output and of each input's gradient, against a float64 reference.</summary>
public sealed record FormCheckResult(string Form, string Case, double Tolerance, IReadOnlyList<(string Quantity, double Error)> Errors)
{
    /// <summary>The largest error (NaN when any error is NaN: a shape mismatch or a non-finite value fails).</summary>
    public double Worst => Errors.Any(e => double.IsNaN(e.Error)) ? double.NaN : Errors.Max(e => e.Error);

    public bool Passed => Worst <= Tolerance;
}

/// <summary>
/// The comparison every form check of the Gla and DeltaRule families runs: the op and its reference on the same
/// (dtype-rounded) inputs, outputs and the gradients of Σ o·g for a fixed random g.
/// </summary>
public static class FormCheck
{
    /// <summary>
    /// Tolerance on the relative error: 1e-11 for fp64 forms, 5e-5 for fp32 ones, 2e-2 for 16-bit ones. (fp32 is looser
    /// than the 1e-5 of linear attention: under strong decay the gradient of the log decay is a cumulative sum of
    /// products that largely cancel, about 1e-5 relative error in fp32.)
    /// </summary>
    public static double Tolerance(ScalarType dtype) => dtype switch
    {
        ScalarType.Float64 => 1e-11,
        ScalarType.BFloat16 or ScalarType.Float16 => 2e-2,
        _ => 5e-5,
    };

    /// <summary>
    /// Runs <paramref name="op"/> in <paramref name="dtype"/> and <paramref name="reference"/> in float64 on the same inputs.
    /// With <paramref name="headSplit"/> each input is passed as the mixers pass it: the [B, H, T, ...] transpose of a
    /// dense [B, T, H, ...] tensor.
    /// </summary>
    public static FormCheckResult Compare(string form, string caseName, Func<Tensor[], Tensor> op, Func<Tensor[], Tensor> reference,
        Tensor[] inputs, Tensor outputGradient, string[] quantities, ScalarType dtype, bool headSplit, double? tolerance = null)
    {
        if (quantities.Length != inputs.Length + 1) throw new ArgumentException("one quantity name for the output and one per input");
        using var scope = NewDisposeScope();
        var expected = Evaluate(reference, inputs, outputGradient, ScalarType.Float64, headSplit);
        var actual = Evaluate(op, inputs, outputGradient, dtype, headSplit);
        var errors = quantities.Select((name, i) => (name, TensorErrors.Relative(actual[i], expected[i]))).ToList();
        return new FormCheckResult(form, caseName, tolerance ?? Tolerance(dtype), errors);
    }

    /// <summary>The output and every input's gradient, in float64, for inputs cast to <paramref name="dtype"/>.</summary>
    private static Tensor[] Evaluate(Func<Tensor[], Tensor> op, Tensor[] inputs, Tensor outputGradient, ScalarType dtype, bool headSplit)
    {
        Tensor Leaf(Tensor x) => (headSplit ? x.transpose(1, 2).contiguous() : x).to(dtype).detach().requires_grad_();
        Tensor AsInput(Tensor leaf) => headSplit ? leaf.transpose(1, 2) : leaf;
        var leaves = inputs.Select(Leaf).ToArray();
        var o = op(leaves.Select(AsInput).ToArray());
        (o.to(ScalarType.Float64) * outputGradient).sum().backward();
        return [o.detach().to(ScalarType.Float64), .. leaves.Select(l => AsInput(l.grad!).to(ScalarType.Float64))];
    }
}
