namespace Rebased.Kernels;

/// <summary>How far a result is from its reference, as every check of this project measures it.</summary>
public static class TensorErrors
{
    /// <summary>‖ours − ref‖₂ / ‖ref‖₂ in float64 (0 when both are zero, +∞ when only the reference is, NaN on shape mismatch or non-finite values).</summary>
    public static double Relative(Tensor ours, Tensor reference)
    {
        if (!ours.shape.SequenceEqual(reference.shape)) return double.NaN;
        using var scope = NewDisposeScope();
        var a = ours.detach().cpu().to(ScalarType.Float64);
        var b = reference.detach().cpu().to(ScalarType.Float64);
        double diff = (a - b).norm().item<double>();
        double norm = b.norm().item<double>();
        if (norm == 0) return diff == 0 ? 0 : double.PositiveInfinity;
        return diff / norm;
    }

    /// <summary>
    /// ‖ours − ref‖₂ / max(‖ref‖₂, <paramref name="scale"/>) in float64: the relative error, except where the
    /// reference is much smaller than the size its inputs give it (an analytically near-zero gradient), which is
    /// judged against that size instead. NaN on shape mismatch or non-finite values.
    /// </summary>
    public static double Scaled(Tensor ours, Tensor reference, double scale)
    {
        if (!ours.shape.SequenceEqual(reference.shape)) return double.NaN;
        using var scope = NewDisposeScope();
        var a = ours.detach().cpu().to(ScalarType.Float64);
        var b = reference.detach().cpu().to(ScalarType.Float64);
        double diff = (a - b).norm().item<double>();
        double norm = Math.Max(b.norm().item<double>(), scale);
        if (norm == 0) return diff == 0 ? 0 : double.PositiveInfinity;
        return diff / norm;
    }
}
