namespace Rebased.Kernels.Scan;

/// <summary>
/// The reference's RWKV_FLOAT_MODE=bf16 numerics around any WKV form: the WKV is computed in the input
/// precision, but its output y is rounded to bfloat16, and so are the gradient arriving at y and the
/// gradients returned for timeDecay, timeFirst, k and v (the reference's CUDA op returns y as a bf16 tensor
/// and its backward returns bf16 gradients, which autograd casts back to the fp32 inputs).
/// Only useful to reproduce the reference bit-for-bit in spirit; the exact path is the wrapped form itself.
/// The backward recomputes the wrapped form with autograd, so no activations are kept between passes.
/// </summary>
public sealed class Bf16RoundedWkv : IWkv
{
    private readonly IWkv _inner;

    public Bf16RoundedWkv(IWkv inner) => _inner = inner;

    public string Name => _inner.Name + "-bf16";

    public Tensor Forward(Tensor timeDecay, Tensor timeFirst, Tensor k, Tensor v) =>
        RoundedFunction.apply(timeDecay, timeFirst, k, v, _inner);

    internal static Tensor RoundToBf16(Tensor x) => x.to(ScalarType.BFloat16).to(x.dtype);

    private sealed class RoundedFunction : autograd.SingleTensorFunction<RoundedFunction>
    {
        private const string FormKey = "form";

        public override string Name => nameof(Bf16RoundedWkv);

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var inputs = vars.Take(4).Cast<Tensor>().ToList();
            var form = (IWkv)vars[4];
            ctx.save_for_backward(inputs);
            ctx.save_data(FormKey, form);
            using var y = form.Forward(inputs[0], inputs[1], inputs[2], inputs[3]);
            return RoundToBf16(y);
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput) =>
            AutogradTemporaries.Backward(ctx, gradOutput, saved =>
            {
                var form = (IWkv)ctx.get_data(FormKey);
                using var gradMode = enable_grad();
                var inputs = saved.Select(t => t.detach().requires_grad_(true)).ToList();
                var y = form.Forward(inputs[0], inputs[1], inputs[2], inputs[3]);
                var grads = autograd.grad(new[] { y }, inputs, new[] { RoundToBf16(gradOutput) });
                var rounded = grads.Select(RoundToBf16).ToList();
                rounded.Add(null!);
                return rounded;
            });
    }
}
