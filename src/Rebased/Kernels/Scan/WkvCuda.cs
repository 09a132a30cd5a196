using Rebased.Native;

namespace Rebased.Kernels.Scan;

/// <summary>
/// The fused CUDA form (ScanKernels.cu): one thread per (batch, channel), sequential over T in fp32 with the
/// running-maximum form of <see cref="WkvRecurrent"/>. The forward keeps y and the log of each position's
/// denominator; the backward is one reverse sweep over those, k and v. w = exp(timeDecay) is taken outside the
/// kernel, so autograd carries its gradient back to timeDecay. float32 CUDA tensors only.
/// </summary>
public sealed class WkvCuda : IWkv
{
    public string Name => "cuda";

    public bool Supports(Device device, ScalarType dtype) => device.type == DeviceType.CUDA && dtype == ScalarType.Float32;

    public Tensor Forward(Tensor timeDecay, Tensor timeFirst, Tensor k, Tensor v)
    {
        foreach (var (name, t) in new[] { ("time_decay", timeDecay), ("time_first", timeFirst), ("k", k), ("v", v) })
        {
            if (!Supports(t.device, t.dtype))
                throw new ArgumentException($"the CUDA WKV needs float32 CUDA tensors; {name} is {t.dtype} on {t.device}");
        }
        if (k.dim() != 3 || !k.shape.SequenceEqual(v.shape))
            throw new ArgumentException($"the CUDA WKV needs k and v of one shape [B, T, C], got [{string.Join(", ", k.shape)}] and [{string.Join(", ", v.shape)}]");
        if (timeDecay.numel() != k.shape[2] || timeFirst.numel() != k.shape[2])
            throw new ArgumentException($"time_decay and time_first need {k.shape[2]} elements");
        return WkvFunction.apply(timeDecay.exp(), timeFirst, k, v);
    }

    private static unsafe (Tensor Y, Tensor LogDenominator) ForwardRaw(Tensor w, Tensor u, Tensor k, Tensor v)
    {
        var y = empty_like(k);
        var lnd = empty_like(k);
        int batch = (int)k.shape[0], steps = (int)k.shape[1], channels = (int)k.shape[2];
        long threads = (long)batch * channels;
        if (threads > 0 && steps > 0)
        {
            IntPtr wp = DevicePointers.Of(w), up = DevicePointers.Of(u), kp = DevicePointers.Of(k), vp = DevicePointers.Of(v),
                yp = DevicePointers.Of(y), lp = DevicePointers.Of(lnd);
            void** args = stackalloc void*[] { &wp, &up, &kp, &vp, &yp, &lp, &batch, &steps, &channels };
            ScanKernels.Launch(k, 16, "wkv_forward", ((uint)((threads + ScanKernels.WkvThreads - 1) / ScanKernels.WkvThreads), 1, 1), ScanKernels.WkvThreads, args);
        }
        return (y, lnd);
    }

    private static unsafe (Tensor Gw, Tensor Gu, Tensor Gk, Tensor Gv) BackwardRaw(Tensor w, Tensor u, Tensor k, Tensor v, Tensor y, Tensor lnd, Tensor gy)
    {
        using var scope = NewDisposeScope();
        gy = gy.contiguous();
        int batch = (int)k.shape[0], steps = (int)k.shape[1], channels = (int)k.shape[2];
        var gk = empty_like(k);
        var gv = empty_like(v);
        var gwPart = zeros(new long[] { batch, channels }, ScalarType.Float32, k.device);
        var guPart = zeros(new long[] { batch, channels }, ScalarType.Float32, k.device);
        long threads = (long)batch * channels;
        if (threads > 0 && steps > 0)
        {
            IntPtr wp = DevicePointers.Of(w), up = DevicePointers.Of(u), kp = DevicePointers.Of(k), vp = DevicePointers.Of(v),
                yp = DevicePointers.Of(y), lp = DevicePointers.Of(lnd), gyp = DevicePointers.Of(gy), gkp = DevicePointers.Of(gk),
                gvp = DevicePointers.Of(gv), gwp = DevicePointers.Of(gwPart), gup = DevicePointers.Of(guPart);
            void** args = stackalloc void*[] { &wp, &up, &kp, &vp, &yp, &lp, &gyp, &gkp, &gvp, &gwp, &gup, &batch, &steps, &channels };
            ScanKernels.Launch(k, 16, "wkv_backward", ((uint)((threads + ScanKernels.WkvThreads - 1) / ScanKernels.WkvThreads), 1, 1), ScanKernels.WkvThreads, args);
        }
        else
        {
            gk.zero_();
            gv.zero_();
        }
        return (ScanKernels.SumOverFirstDimension(gwPart).MoveToOuterDisposeScope(), ScanKernels.SumOverFirstDimension(guPart).MoveToOuterDisposeScope(), gk.MoveToOuterDisposeScope(), gv.MoveToOuterDisposeScope());
    }

    private sealed class WkvFunction : autograd.SingleTensorFunction<WkvFunction>
    {
        public override string Name => nameof(WkvCuda);

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var w = ((Tensor)vars[0]).contiguous();
            var u = ((Tensor)vars[1]).contiguous();
            var k = ((Tensor)vars[2]).contiguous();
            var v = ((Tensor)vars[3]).contiguous();
            var (y, lnd) = ForwardRaw(w, u, k, v);
            ctx.save_for_backward([w, u, k, v, y.detach(), lnd]);
            return y;
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput) =>
            AutogradTemporaries.Backward(ctx, gradOutput, s =>
            {
                var (gw, gu, gk, gv) = BackwardRaw(s[0], s[1], s[2], s[3], s[4], s[5], gradOutput);
                return [gw.reshape(s[0].shape), gu.reshape(s[1].shape), gk, gv];
            });
    }
}
