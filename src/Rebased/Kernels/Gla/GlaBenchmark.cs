namespace Rebased.Kernels.Gla;

/// <summary>Times GLA forms at one shape (forward, and forward+backward through q, k, v and g) with <see cref="FormTimer"/>.</summary>
public static class GlaBenchmark
{
    /// <summary>Forms whose estimated autograd memory at a shape exceeds this are skipped.</summary>
    public static long MemoryBudgetBytes { get; set; } = 8L << 30;

    public static List<FormTiming> Measure(IReadOnlyList<IGatedLinearAttention> forms, KeyValueShape shape, Device device, ScalarType dtype, TimeSpan budgetPerForm)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(17);
        Tensor Random(long width) => randn([shape.B, shape.H, shape.T, width], dtype, generator: generator).to(device);
        var (q, k, v) = (Random(shape.Dk), Random(shape.Dk), Random(shape.Dv));
        var g = nn.functional.logsigmoid(Random(shape.Dk)) / 16;
        var dy = Random(shape.Dv);
        double scale = 1.0 / Math.Sqrt(shape.Dk);
        var timed = forms.Select(form => TimedForm.OfForward(form.Name, EstimatedBytes(form, shape), MemoryBudgetBytes,
            x => form.Forward(x[0], x[1], x[2], x[3], scale), [q, k, v, g], dy)).ToList();
        return FormTimer.Measure(timed, device, budgetPerForm);
    }

    /// <summary>Autograd keeps one fp32 Dk×Dv state per token for the recurrent form and per chunk for the chunked one, plus the sub-chunk score tensors.</summary>
    private static long EstimatedBytes(IGatedLinearAttention form, KeyValueShape s) => form switch
    {
        GlaRecurrent => s.B * s.H * s.T * s.Dk * s.Dv * 4 * 3,
        GlaChunked c => s.B * s.H * (s.T / c.ChunkSize + 1) * s.Dk * s.Dv * 4 * 3
                        + s.B * s.H * s.T * s.Dk * 4 * (c.ChunkSize / c.SubChunkSize + c.SubChunkSize) * 3,
        _ => 0,
    };
}
