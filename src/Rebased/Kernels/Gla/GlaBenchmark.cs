namespace Rebased.Kernels.Gla;

/// <summary>Times GLA forms at one shape (forward, and forward+backward through q, k, v and g) with <see cref="KeyValueRecurrence.Measure"/>.</summary>
public static class GlaBenchmark
{
    public static List<FormTiming> Measure(IReadOnlyList<IGatedLinearAttention> forms, KeyValueShape shape, Device device, ScalarType dtype, TimeSpan budgetPerForm,
        int backToBack = 1) =>
        KeyValueRecurrence.Measure(forms, GlaForms.Inputs(gateNormalizer: 16), EstimatedBytes, shape, device, dtype, budgetPerForm, backToBack);

    /// <summary>Autograd keeps one fp32 Dk×Dv state per token for the recurrent form and per chunk for the chunked one, plus the sub-chunk score tensors.</summary>
    private static long EstimatedBytes(IGatedLinearAttention form, KeyValueShape s) => form switch
    {
        GlaRecurrent => s.B * s.H * s.T * s.Dk * s.Dv * 4 * 3,
        GlaChunked c => s.B * s.H * (s.T / c.ChunkSize + 1) * s.Dk * s.Dv * 4 * 3
                        + s.B * s.H * s.T * s.Dk * 4 * (c.ChunkSize / c.SubChunkSize + c.SubChunkSize) * 3,
        _ => 0,
    };
}
