using Rebased.Kernels;

namespace Rebased.Tests.Kernels;

public class AutogradTemporariesTests
{
    public AutogradTemporariesTests() => TorchRuntime.EnsureLoaded();

    /// <summary>y = 3x, whose backward records what it received and returned.</summary>
    private sealed class Triple : autograd.SingleTensorFunction<Triple>
    {
        public static readonly List<Tensor> Seen = [];

        public override string Name => nameof(Triple);

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var x = (Tensor)vars[0];
            ctx.save_for_backward([x]);
            return x * 3;
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output) =>
            AutogradTemporaries.Backward(ctx, grad_output, saved =>
            {
                var temporary = saved[0] * 0;
                var grad = grad_output * 3 + temporary;
                lock (Seen) Seen.AddRange([grad_output, saved[0], temporary, grad]);
                return [grad];
            });
    }

    [Fact]
    public void EverythingTheBackwardCreatedIsFreedOnceTheCollectScopeCloses()
    {
        lock (Triple.Seen) Triple.Seen.Clear();
        var x = tensor(new[] { 1f, 2f }).requires_grad_();
        using (AutogradTemporaries.Collect())
        {
            Triple.apply(x).sum().backward();
            var (incoming, saved, temporary, returned) = (Triple.Seen[0], Triple.Seen[1], Triple.Seen[2], Triple.Seen[3]);
            Assert.True(incoming.IsInvalid && saved.IsInvalid && temporary.IsInvalid, "freed when the backward returned");
            Assert.False(returned.IsInvalid, "the returned gradient lives until the scope closes");
        }
        Assert.True(Triple.Seen[3].IsInvalid, "and is freed then");
        Assert.Equal(new[] { 3f, 3f }, x.grad!.data<float>().ToArray());
    }

    [Fact]
    public void WithoutACollectScopeTheReturnedGradientIsLeftToItsFinalizer()
    {
        lock (Triple.Seen) Triple.Seen.Clear();
        var x = tensor(new[] { 1f, 2f }).requires_grad_();
        Triple.apply(x).sum().backward();
        Assert.False(Triple.Seen[3].IsInvalid);
        Assert.Equal(new[] { 3f, 3f }, x.grad!.data<float>().ToArray());
    }
}
