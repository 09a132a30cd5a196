namespace Rebased.Kernels.Scan;

/// <summary>
/// Mamba's selective scan (selective_scan_ref semantics), per batch b, channel d and state n:
/// Δ = softplus(delta + deltaBias) (softplus only when asked), h_t = exp(Δ_t·A)·h_{t−1} + Δ_t·B_t·u_t,
/// y_t = C_t·h_t + D·u_t, and y ← y ⊙ SiLU(z) when z is given.
/// u, delta, z: [B, D, L]; a: [D, N] (real, normally negative); b, c: [B, N, L]; d, deltaBias: [D].
/// Returns y: [B, D, L]. Every form computes the same function and is differentiable in all tensor inputs.
/// </summary>
public interface ISelectiveScan : IKernelForm
{
    /// <summary>The composed forms run on every device and dtype.</summary>
    bool IKernelForm.Supports(Device device, ScalarType dtype) => true;

    /// <summary>Whether the form runs on these inputs (a fused kernel may support only some state sizes).</summary>
    bool SupportsInputs(Tensor u, Tensor a) => Supports(u.device, u.dtype);

    Tensor Forward(Tensor u, Tensor delta, Tensor a, Tensor b, Tensor c, Tensor? d = null, Tensor? z = null,
        Tensor? deltaBias = null, bool deltaSoftplus = false);
}

/// <summary>All selective-scan forms by name.</summary>
public static class SelectiveScanForms
{
    /// <summary>Every implementation; <c>auto</c> prefers the fused CUDA form, then the parallel one.</summary>
    public static KernelForms<ISelectiveScan> Registry { get; } = new("selective-scan",
        [new SelectiveScanParallel(), new SelectiveScanRecurrent(), new SelectiveScanCuda()], autoPreference: ["cuda", "parallel", "recurrent"]);

    private static readonly ISelectiveScan AutoForm = new SelectiveScanAuto();

    /// <summary>The forms that run on tensors of this device and dtype, in the order of preference.</summary>
    public static IEnumerable<ISelectiveScan> Supporting(Device device, ScalarType dtype) => Registry.Supporting(device, dtype);

    /// <summary>
    /// The form called <paramref name="name"/>; "auto" chooses per call from the tensors (<see cref="Auto"/>): a
    /// mixer names its form before it knows the device.
    /// </summary>
    public static ISelectiveScan Get(string name) => name == "auto" ? AutoForm : Registry.Named(name);

    /// <summary>The form "auto" runs for these inputs: the most preferred that supports them.</summary>
    public static ISelectiveScan Auto(Tensor u, Tensor a) => Supporting(u.device, u.dtype).First(f => f.SupportsInputs(u, a));

    private sealed class SelectiveScanAuto : ISelectiveScan
    {
        public string Name => "auto";

        public Tensor Forward(Tensor u, Tensor delta, Tensor a, Tensor b, Tensor c, Tensor? d = null, Tensor? z = null,
            Tensor? deltaBias = null, bool deltaSoftplus = false) =>
            Auto(u, a).Forward(u, delta, a, b, c, d, z, deltaBias, deltaSoftplus);
    }
}

/// <summary>
/// A form written in tensor ops: the per-step decays exp(Δ·A) and inputs Δ·B·u ([B, D, L, N]), the states they
/// make and y = Σ_n C·h from them (<see cref="Output"/>), then the D skip and the SiLU(z) gate.
/// </summary>
public abstract class ComposedSelectiveScan(string name) : ISelectiveScan
{
    public string Name => name;

    public Tensor Forward(Tensor u, Tensor delta, Tensor a, Tensor b, Tensor c, Tensor? d = null, Tensor? z = null,
        Tensor? deltaBias = null, bool deltaSoftplus = false)
    {
        using var scope = NewDisposeScope();
        if (deltaBias is not null) delta = delta + deltaBias.unsqueeze(-1);
        if (deltaSoftplus) delta = nn.functional.softplus(delta);
        var decay = (delta.unsqueeze(-1) * a.unsqueeze(1)).exp();
        var input = (delta * u).unsqueeze(-1) * b.transpose(1, 2).unsqueeze(1);
        var y = Output(decay, input, c);
        if (d is not null) y = y + u * d.unsqueeze(-1);
        if (z is not null) y = y * nn.functional.silu(z);
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>y [B, D, L] of the recurrence h_t = decay_t·h_{t−1} + input_t (decay, input [B, D, L, N]), read by C [B, N, L].</summary>
    protected abstract Tensor Output(Tensor decay, Tensor input, Tensor c);
}

/// <summary>The reference form: one step per position over the [B, D, N] state, as selective_scan_ref.</summary>
public sealed class SelectiveScanRecurrent() : ComposedSelectiveScan("recurrent")
{
    protected override Tensor Output(Tensor decay, Tensor input, Tensor c)
    {
        long steps = decay.shape[2];
        var state = zeros(decay.shape[0], decay.shape[1], decay.shape[3], dtype: decay.dtype, device: decay.device);
        var outputs = new List<Tensor>((int)steps);
        for (long t = 0; t < steps; t++)
        {
            state = decay.select(2, t) * state + input.select(2, t);
            outputs.Add((state * c.select(2, t).unsqueeze(1)).sum(-1));
        }
        return stack(outputs, 2);
    }
}

/// <summary>
/// All positions at once: the state recurrence runs as a log-depth parallel scan (<see cref="LinearRecurrence"/>),
/// then y = Σ_n C·h for every position in one reduction.
/// </summary>
public sealed class SelectiveScanParallel() : ComposedSelectiveScan("parallel")
{
    protected override Tensor Output(Tensor decay, Tensor input, Tensor c) =>
        (LinearRecurrence.Scan(decay, input, 2) * c.transpose(1, 2).unsqueeze(1)).sum(-1);
}
