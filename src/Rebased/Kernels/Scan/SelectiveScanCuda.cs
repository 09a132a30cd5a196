using Rebased.Native;

namespace Rebased.Kernels.Scan;

/// <summary>
/// The fused CUDA form (ScanKernels.cu): one thread per (batch, channel, state), sequential over L in fp32 on
/// chunks of 32 positions staged in shared memory, Δ's bias and softplus, the D skip and the SiLU(z) gate
/// fused. The forward keeps only the states at the start of every 32 positions ([B, D, ⌈L/32⌉, N]) and, with z, the ungated y; the backward recomputes each
/// chunk's states from its checkpoint and runs the adjoint recurrence in reverse. No [B, D, L, N] tensor is
/// built. float32 CUDA tensors with N a power of two ≤ 32.
/// </summary>
public sealed class SelectiveScanCuda : ISelectiveScan
{
    public string Name => "cuda";

    public bool Supports(Device device, ScalarType dtype) => device.type == DeviceType.CUDA && dtype == ScalarType.Float32;

    /// <summary>Whether these inputs run here: float32 on CUDA and a supported state size.</summary>
    public bool SupportsInputs(Tensor u, Tensor a) => Supports(u.device, u.dtype) && a.dim() == 2 && ScanKernels.SupportsStateSize(a.shape[1]);

    public Tensor Forward(Tensor u, Tensor delta, Tensor a, Tensor b, Tensor c, Tensor? d = null, Tensor? z = null,
        Tensor? deltaBias = null, bool deltaSoftplus = false)
    {
        var named = new (string Name, Tensor? T)[] { ("u", u), ("delta", delta), ("A", a), ("B", b), ("C", c), ("D", d), ("z", z), ("delta_bias", deltaBias) };
        foreach (var (name, t) in named)
        {
            if (t is not null && !Supports(t.device, t.dtype))
                throw new ArgumentException($"the CUDA selective scan needs float32 CUDA tensors; {name} is {t.dtype} on {t.device}");
        }
        if (u.dim() != 3 || !u.shape.SequenceEqual(delta.shape) || (z is not null && !u.shape.SequenceEqual(z.shape)))
            throw new ArgumentException($"the CUDA selective scan needs u, delta (and z) of one shape [B, D, L], got u [{string.Join(", ", u.shape)}]");
        long batch = u.shape[0], channels = u.shape[1], steps = u.shape[2];
        if (a.dim() != 2 || a.shape[0] != channels || !ScanKernels.SupportsStateSize(a.shape[1]))
            throw new ArgumentException($"the CUDA selective scan needs A [D, N] with D = {channels} and N a power of two ≤ 32, got [{string.Join(", ", a.shape)}]");
        long states = a.shape[1];
        foreach (var (name, t) in new[] { ("B", b), ("C", c) })
        {
            if (!t.shape.SequenceEqual(new[] { batch, states, steps }))
                throw new ArgumentException($"the CUDA selective scan needs {name} [B, N, L] = [{batch}, {states}, {steps}], got [{string.Join(", ", t.shape)}]");
        }
        foreach (var (name, t) in new[] { ("D", d), ("delta_bias", deltaBias) })
        {
            if (t is not null && t.numel() != channels) throw new ArgumentException($"the CUDA selective scan needs {name} with {channels} elements");
        }
        if (batch > 65535) throw new ArgumentException($"the CUDA selective scan supports batch ≤ 65535, got {batch}");
        return ScanFunction.apply(u, delta, a, b, c, (object?)d ?? Absent, (object?)z ?? Absent, (object?)deltaBias ?? Absent, deltaSoftplus);
    }

    /// <summary>Stands for an optional tensor that was not given (autograd functions take objects).</summary>
    private static readonly object Absent = new();

    private static (uint, uint, uint) Grid(long channels, long batch, int states) => ((uint)Blocks(channels, states), (uint)batch, 1);

    /// <summary>Blocks per batch element: the channels in groups of <see cref="ScanKernels.SelectiveScanChannelsPerBlock"/>.</summary>
    private static long Blocks(long channels, int states) =>
        (channels + ScanKernels.SelectiveScanChannelsPerBlock(states) - 1) / ScanKernels.SelectiveScanChannelsPerBlock(states);

    private sealed record Saved(Tensor U, Tensor Delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? Z, Tensor? Bias, bool Softplus);

    private static unsafe (Tensor Out, Tensor? Ungated, Tensor Checkpoints) ForwardRaw(Saved x)
    {
        long batch = x.U.shape[0], channels = x.U.shape[1], steps = x.U.shape[2];
        int states = (int)x.A.shape[1];
        var output = empty_like(x.U);
        var ungated = x.Z is null ? null : empty_like(x.U);
        var checkpoints = empty(new[] { batch, channels, (steps + ScanKernels.Chunk - 1) / ScanKernels.Chunk, states }, ScalarType.Float32, x.U.device);
        if (batch > 0 && channels > 0 && steps > 0)
        {
            IntPtr up = DevicePointers.Of(x.U), dp = DevicePointers.Of(x.Delta), ap = DevicePointers.Of(x.A), bp = DevicePointers.Of(x.B),
                cp = DevicePointers.Of(x.C), skp = DevicePointers.Of(x.D), zp = DevicePointers.Of(x.Z), biasp = DevicePointers.Of(x.Bias),
                outp = DevicePointers.Of(output), ugp = DevicePointers.Of(ungated), hcp = DevicePointers.Of(checkpoints);
            int softplus = x.Softplus ? 1 : 0, nb = (int)batch, nd = (int)channels, nl = (int)steps;
            void** args = stackalloc void*[] { &up, &dp, &ap, &bp, &cp, &skp, &zp, &biasp, &softplus, &outp, &ugp, &hcp, &nb, &nd, &nl };
            ScanKernels.Launch(x.U, states, "selective_scan_forward", Grid(channels, batch, states), ScanKernels.SelectiveScanThreads(states), args);
        }
        return (output, ungated, checkpoints);
    }

    private static unsafe List<Tensor> BackwardRaw(Saved x, Tensor? ungated, Tensor checkpoints, Tensor gradOutput)
    {
        using var scope = NewDisposeScope();
        long batch = x.U.shape[0], channels = x.U.shape[1], steps = x.U.shape[2];
        int states = (int)x.A.shape[1];
        var g = gradOutput.contiguous();
        bool launches = batch > 0 && channels > 0 && steps > 0;
        // The kernel writes every element of these; without a launch (an empty sequence) the gradients are zero.
        Tensor Gradient(long[] shape) => launches ? empty(shape, ScalarType.Float32, x.U.device) : zeros(shape, ScalarType.Float32, x.U.device);
        var du = Gradient(x.U.shape);
        var ddelta = Gradient(x.U.shape);
        var dz = x.Z is null ? null : Gradient(x.U.shape);
        var dAPart = Gradient([batch, channels, states]);
        var dDPart = Gradient([batch, channels]);
        var dBiasPart = Gradient([batch, channels]);
        long blocks = Blocks(channels, states);
        var dBPart = Gradient([blocks, batch, states, steps]);
        var dCPart = Gradient([blocks, batch, states, steps]);
        if (launches)
        {
            IntPtr up = DevicePointers.Of(x.U), dp = DevicePointers.Of(x.Delta), ap = DevicePointers.Of(x.A), bp = DevicePointers.Of(x.B),
                cp = DevicePointers.Of(x.C), skp = DevicePointers.Of(x.D), zp = DevicePointers.Of(x.Z), biasp = DevicePointers.Of(x.Bias),
                ugp = DevicePointers.Of(ungated), hcp = DevicePointers.Of(checkpoints), gp = DevicePointers.Of(g),
                dup = DevicePointers.Of(du), ddp = DevicePointers.Of(ddelta), dzp = DevicePointers.Of(dz),
                dap = DevicePointers.Of(dAPart), dskp = DevicePointers.Of(dDPart), dbiasp = DevicePointers.Of(dBiasPart),
                dbp = DevicePointers.Of(dBPart), dcp = DevicePointers.Of(dCPart);
            int softplus = x.Softplus ? 1 : 0, nb = (int)batch, nd = (int)channels, nl = (int)steps;
            void** args = stackalloc void*[]
            {
                &up, &dp, &ap, &bp, &cp, &skp, &zp, &biasp, &softplus, &ugp, &hcp, &gp,
                &dup, &ddp, &dzp, &dap, &dskp, &dbiasp, &dbp, &dcp, &nb, &nd, &nl,
            };
            ScanKernels.Launch(x.U, states, "selective_scan_backward", Grid(channels, batch, states), ScanKernels.SelectiveScanThreads(states), args);
        }
        var grads = new List<Tensor>
        {
            du, ddelta, ScanKernels.SumOverFirstDimension(dAPart), ScanKernels.SumOverFirstDimension(dBPart), ScanKernels.SumOverFirstDimension(dCPart),
            x.D is null ? null! : ScanKernels.SumOverFirstDimension(dDPart).reshape(x.D.shape),
            dz!,
            x.Bias is null ? null! : ScanKernels.SumOverFirstDimension(dBiasPart).reshape(x.Bias.shape),
            null!,
        };
        foreach (var t in grads) t?.MoveToOuterDisposeScope();
        return grads;
    }

    private sealed class ScanFunction : autograd.SingleTensorFunction<ScanFunction>
    {
        public override string Name => nameof(SelectiveScanCuda);

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            static Tensor? Optional(object o) => o is Tensor t ? t.contiguous() : null;
            var x = new Saved(((Tensor)vars[0]).contiguous(), ((Tensor)vars[1]).contiguous(), ((Tensor)vars[2]).contiguous(),
                ((Tensor)vars[3]).contiguous(), ((Tensor)vars[4]).contiguous(), Optional(vars[5]), Optional(vars[6]), Optional(vars[7]), (bool)vars[8]);
            var (output, ungated, checkpoints) = ForwardRaw(x);
            var saved = new List<Tensor> { x.U, x.Delta, x.A, x.B, x.C, checkpoints };
            if (x.D is not null) saved.Add(x.D);
            if (x.Z is not null) { saved.Add(x.Z); saved.Add(ungated!); }
            if (x.Bias is not null) saved.Add(x.Bias);
            ctx.save_for_backward(saved);
            ctx.save_data("flags", (x.D is not null, x.Z is not null, x.Bias is not null, x.Softplus));
            return output;
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput) =>
            AutogradTemporaries.Backward(ctx, gradOutput, s =>
            {
                var (hasD, hasZ, hasBias, softplus) = ((bool, bool, bool, bool))ctx.get_data("flags");
                int next = 6;
                var d = hasD ? s[next++] : null;
                var z = hasZ ? s[next++] : null;
                var ungated = hasZ ? s[next++] : null;
                var bias = hasBias ? s[next++] : null;
                var x = new Saved(s[0], s[1], s[2], s[3], s[4], d, z, bias, softplus);
                return BackwardRaw(x, ungated, s[5], gradOutput);
            });
    }
}
