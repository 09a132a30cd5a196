namespace Rebased.Kernels.DeltaRule;

/// <summary>Times delta-rule forms at one shape (forward, and forward+backward through q, k, v and β) with <see cref="KeyValueRecurrence.Measure"/>.</summary>
public static class DeltaRuleBenchmark
{
    public static List<FormTiming> Measure(IReadOnlyList<IDeltaRule> forms, KeyValueShape shape, Device device, ScalarType dtype, TimeSpan budgetPerForm,
        int backToBack = 1) =>
        KeyValueRecurrence.Measure(forms, DeltaRuleForms.Inputs, EstimatedBytes, shape, device, dtype, budgetPerForm, backToBack);

    /// <summary>Autograd keeps one fp32 Dk×Dv state per token for the recurrent form and per chunk for the chunked one, plus the C×C chunk matrices.</summary>
    private static long EstimatedBytes(IDeltaRule form, KeyValueShape s) => form switch
    {
        DeltaRuleRecurrent => s.B * s.H * s.T * s.Dk * s.Dv * 4 * 3,
        DeltaRuleChunked c => s.B * s.H * (s.T / c.ChunkSize + 1) * s.Dk * s.Dv * 4 * 3 + s.B * s.H * s.T * c.ChunkSize * 4 * 4,
        _ => 0,
    };
}
