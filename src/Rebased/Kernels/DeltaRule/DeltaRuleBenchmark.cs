namespace Rebased.Kernels.DeltaRule;

/// <summary>Times delta-rule forms at one shape (forward, and forward+backward through q, k, v and β) with <see cref="FormTimer"/>.</summary>
public static class DeltaRuleBenchmark
{
    /// <summary>Forms whose estimated autograd memory at a shape exceeds this are skipped.</summary>
    public static long MemoryBudgetBytes { get; set; } = 8L << 30;

    public static List<FormTiming> Measure(IReadOnlyList<IDeltaRule> forms, KeyValueShape shape, Device device, ScalarType dtype, TimeSpan budgetPerForm)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(17);
        Tensor Random(params long[] dims) => randn(dims, dtype, generator: generator).to(device);
        var q = nn.functional.normalize(Random(shape.B, shape.H, shape.T, shape.Dk), dim: -1);
        var k = nn.functional.normalize(Random(shape.B, shape.H, shape.T, shape.Dk), dim: -1);
        var v = Random(shape.B, shape.H, shape.T, shape.Dv);
        var beta = Random(shape.B, shape.H, shape.T).sigmoid();
        var dy = Random(shape.B, shape.H, shape.T, shape.Dv);
        double scale = 1.0 / Math.Sqrt(shape.Dk);
        var timed = forms.Select(form => TimedForm.OfForward(form.Name, EstimatedBytes(form, shape), MemoryBudgetBytes,
            x => form.Forward(x[0], x[1], x[2], x[3], scale), [q, k, v, beta], dy)).ToList();
        return FormTimer.Measure(timed, device, budgetPerForm);
    }

    /// <summary>Autograd keeps one fp32 Dk×Dv state per token for the recurrent form and per chunk for the chunked one, plus the C×C chunk matrices.</summary>
    private static long EstimatedBytes(IDeltaRule form, KeyValueShape s) => form switch
    {
        DeltaRuleRecurrent => s.B * s.H * s.T * s.Dk * s.Dv * 4 * 3,
        DeltaRuleChunked c => s.B * s.H * (s.T / c.ChunkSize + 1) * s.Dk * s.Dv * 4 * 3 + s.B * s.H * s.T * c.ChunkSize * 4 * 4,
        _ => 0,
    };
}
