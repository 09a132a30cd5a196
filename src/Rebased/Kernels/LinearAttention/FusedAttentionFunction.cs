namespace Rebased.Kernels.LinearAttention;

/// <summary>
/// The autograd function of a fused form: forward(q, k, v, kernel, scale, eps) saves q, k, v, the output as the
/// backward needs it and the normalisers z; the backward recomputes the score tiles from them.
/// </summary>
internal abstract class FusedAttentionFunction<T> : autograd.SingleTensorFunction<T> where T : FusedAttentionFunction<T>, new()
{
    /// <summary>The output, the output kept for the backward (a wider copy where the output is 16-bit) and z.</summary>
    protected abstract (Tensor Y, Tensor YSaved, Tensor Z) Forward(Tensor q, Tensor k, Tensor v, PolynomialKernel kernel, double scale, double eps);

    protected abstract (Tensor Dq, Tensor Dk, Tensor Dv) Backward(Tensor q, Tensor k, Tensor v, Tensor y, Tensor z, Tensor dy,
        PolynomialKernel kernel, double scale, double eps);

    /// <summary>An input as the form's kernels take it, and as it is saved for the backward (contiguous unless overridden).</summary>
    protected virtual Tensor Prepared(Tensor input) => input.contiguous();

    public sealed override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (q, k, v) = (Prepared((Tensor)vars[0]), Prepared((Tensor)vars[1]), Prepared((Tensor)vars[2]));
        var (kernel, scale, eps) = ((PolynomialKernel)vars[3], (double)vars[4], (double)vars[5]);
        var (y, ySaved, z) = Forward(q, k, v, kernel, scale, eps);
        ctx.save_for_backward([q, k, v, ySaved, z]);
        ctx.save_data("kernel", kernel);
        ctx.save_data("scale", scale);
        ctx.save_data("eps", eps);
        return y;
    }

    public sealed override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output) =>
        AutogradTemporaries.Backward(ctx, grad_output, saved =>
        {
            var (dq, dk, dv) = Backward(saved[0], saved[1], saved[2], saved[3], saved[4], grad_output,
                (PolynomialKernel)ctx.get_data("kernel"), (double)ctx.get_data("scale"), (double)ctx.get_data("eps"));
            return [dq, dk, dv, null!, null!, null!];
        });
}
