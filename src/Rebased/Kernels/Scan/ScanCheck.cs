namespace Rebased.Kernels.Scan;

/// <summary>
/// One correctness case of the scans: batch, length, WKV channels C and states N (the selective scan runs on 2C
/// channels, as Mamba's d_inner).
/// </summary>
public sealed record ScanCase(long Batch, long Length, long Channels, long States)
{
    public override string ToString() => $"B={Batch} L={Length} C={Channels} (d_inner {2 * Channels}) N={States}";

    /// <summary>The float64 recurrent reference keeps [B, D, L, N] per-step tensors: larger selective scans are not checked.</summary>
    public bool SelectiveScanFitsTheReference => Batch * 2 * Channels * Length * States <= 64L << 20;
}

/// <summary>
/// Checks WKV and selective-scan forms in float32 against their recurrent forms in float64: the output and the
/// gradient of every input, on random inputs in the ranges the models see.
/// </summary>
public static class ScanCheck
{
    /// <summary>Relative-error tolerance of the float32 forms.</summary>
    public const double Tolerance = 1e-4;

    /// <summary>Tolerance of the bf16-rounded WKV (the reference's rounding of its inputs and output).</summary>
    public const double Bf16RoundedTolerance = 1e-2;

    /// <summary>L = 3 up to 300, channel counts that are not multiples of a block, and state sizes 4, 16 and 32.</summary>
    public static IReadOnlyList<ScanCase> CoveringCases { get; } =
        [new(1, 3, 3, 16), new(2, 37, 20, 16), new(3, 300, 40, 16), new(2, 65, 24, 4), new(2, 70, 17, 32)];

    /// <summary>
    /// WKV inputs in the ranges the models see, float64: time_decay, time_first [C]; k (twice the spread), v [B, L, C];
    /// then the upstream gradient [B, L, C].
    /// </summary>
    public static (Tensor[] Inputs, Tensor OutputGradient) WkvInputs(ScanCase c, Device device, long seed)
    {
        var random = Drawing(device, seed);
        Tensor[] inputs = [random(c.Channels), random(c.Channels), random(c.Batch, c.Length, c.Channels) * 2, random(c.Batch, c.Length, c.Channels)];
        return (inputs, random(c.Batch, c.Length, c.Channels));
    }

    /// <summary>
    /// Selective-scan inputs, float64: u, delta (shifted by −1) [B, 2C, L]; A [2C, N] negative; B, C [B, N, L]; D [2C];
    /// z [B, 2C, L]; the Δ bias [2C]; then the upstream gradient [B, 2C, L].
    /// </summary>
    public static (Tensor[] Inputs, Tensor OutputGradient) SelectiveScanInputs(ScanCase c, Device device, long seed)
    {
        var random = Drawing(device, seed);
        long d = 2 * c.Channels;
        var u = random(c.Batch, d, c.Length);
        var delta = random(c.Batch, d, c.Length) - 1;
        var a = -(rand([d, c.States], ScalarType.Float64, generator: new Generator((ulong)seed + 1)).to(device) * c.States + 0.5);
        var b = random(c.Batch, c.States, c.Length);
        var cc = random(c.Batch, c.States, c.Length);
        var probe = random(c.Batch, d, c.Length);
        return ([u, delta, a, b, cc, random(d), random(c.Batch, d, c.Length), random(d) * 0.5], probe);
    }

    public static Tensor RunWkv(IWkv form, Tensor[] x) => form.Forward(x[0], x[1], x[2], x[3]);

    /// <summary>With the D skip, the z gate, the Δ bias and softplus.</summary>
    public static Tensor RunSelectiveScan(ISelectiveScan form, Tensor[] x) =>
        form.Forward(x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], deltaSoftplus: true);

    public static FormCheckResult Wkv(IWkv form, ScanCase c, Device device, long seed, double tolerance = Tolerance)
    {
        using var scope = NewDisposeScope();
        var (inputs, probe) = WkvInputs(c, device, seed);
        var reference = new WkvRecurrent();
        return FormCheck.Compare(form.Name, c.ToString(), x => RunWkv(form, x), x => RunWkv(reference, x),
            inputs, probe, ["y", "dtime_decay", "dtime_first", "dk", "dv"], ScalarType.Float32, headSplit: false, tolerance);
    }

    /// <summary>With the D skip, the z gate, the Δ bias and softplus; or, <paramref name="plain"/>, without them (Δ = |delta|).</summary>
    public static FormCheckResult SelectiveScan(ISelectiveScan form, ScanCase c, Device device, long seed, bool plain = false)
    {
        using var scope = NewDisposeScope();
        var (inputs, probe) = SelectiveScanInputs(c, device, seed);
        var reference = new SelectiveScanRecurrent();
        if (plain)
            return FormCheck.Compare(form.Name, c.ToString(), x => form.Forward(x[0], x[1].abs(), x[2], x[3], x[4]),
                x => reference.Forward(x[0], x[1].abs(), x[2], x[3], x[4]), inputs[..5], probe,
                ["y", "du", "ddelta", "dA", "dB", "dC"], ScalarType.Float32, headSplit: false, Tolerance);
        return FormCheck.Compare(form.Name, c.ToString(), x => RunSelectiveScan(form, x), x => RunSelectiveScan(reference, x),
            inputs, probe, ["y", "du", "ddelta", "dA", "dB", "dC", "dD", "dz", "ddelta_bias"], ScalarType.Float32, headSplit: false, Tolerance);
    }

    /// <summary>Standard normal float64 tensors drawn on the CPU (TorchSharp's seeded generator is a CPU one), then moved.</summary>
    private static Draw Drawing(Device device, long seed)
    {
        var generator = new Generator((ulong)seed);
        return shape => randn(shape, ScalarType.Float64, generator: generator).to(device);
    }

    private delegate Tensor Draw(params long[] shape);
}
