using Rebased.Kernels;
using Rebased.Kernels.CrossEntropy;

namespace Rebased.Modules;

/// <summary>
/// The output projection and cross-entropy computed together, a block of rows at a time, with the gradient
/// written out by hand (on the CPU in fp32 by the fused C# kernel <see cref="CpuLinearCrossEntropy"/>): for logits z = h·Wᵀ, loss = mean(logsumexp(z) − z[target]), dz = (softmax(z) − onehot)/N,
/// dh = dz·W, dW = dzᵀ·h. On the CPU a block's logits stay in cache and the [N, V] logits, their
/// log-probabilities and gradient are never materialised (they dominate a small model's step at V = 8192);
/// on an accelerator the rows go in one block, through the fused softmax cross-entropy kernel. Same values as
/// autograd through linear + cross_entropy.
/// </summary>
public static class ChunkedHead
{
    /// <summary>Rows per block: about 2 MiB of logits on the CPU; everything at once elsewhere.</summary>
    public static long RowsPerBlock(Device device, long vocab) =>
        device.type == DeviceType.CPU ? Math.Max(16, (1L << 19) / Math.Max(1, vocab)) : long.MaxValue;

    /// <summary>
    /// Loss (mean over the rows, detached) and its backward, scaled by <paramref name="gradScale"/>, into
    /// <paramref name="hidden"/>'s graph and into <paramref name="weight"/>.grad (both accumulate, as backward does).
    /// </summary>
    public static Tensor ForwardBackward(Tensor hidden, Tensor weight, Tensor targets, double gradScale, long rowsPerBlock)
    {
        long n = hidden.shape[0];
        Tensor loss, dHidden, dWeight;
        using (torch.no_grad())
        {
            var h = hidden.detach();
            var w = weight.detach();
            dHidden = torch.empty_like(h);
            dWeight = torch.zeros_like(w);
            loss = torch.zeros(Array.Empty<long>(), ScalarType.Float32, h.device);
            double scale = gradScale / n;
            if (MixedPrecision.ProductType is null && CpuLinearCrossEntropy.Supports(h, w))
                loss.fill_(CpuLinearCrossEntropy.ForwardBackward(h, w, targets, scale, dHidden, dWeight));
            else for (long start = 0; start < n; start += rowsPerBlock)
            {
                using var scope = NewDisposeScope();
                long rows = Math.Min(rowsPerBlock, n - start);
                var hBlock = h.narrow(0, start, rows);
                var dz = MixedPrecision.Matmul(hBlock, w.t());
                loss.add_(SoftmaxCrossEntropy.InPlace(dz, targets.narrow(0, start, rows), scale).sum());
                dHidden.narrow(0, start, rows).copy_(MixedPrecision.Matmul(dz, w));
                MixedPrecision.AddMatmul_(dWeight, dz.t(), hBlock);
            }
            loss.div_(n);
        }
        using (AutogradTemporaries.Collect()) hidden.backward(new[] { dHidden });
        using (torch.no_grad())
        {
            if (weight.grad is { } g) g.add_(dWeight);
            else weight.grad = dWeight.clone();
        }
        dHidden.Dispose();
        dWeight.Dispose();
        return loss;
    }

    /// <summary>Sum of the rows' losses and number of correct argmax predictions, without gradients.</summary>
    public static (Tensor LossSum, Tensor Correct) Evaluate(Tensor hidden, Tensor weight, Tensor targets, long rowsPerBlock)
    {
        long n = hidden.shape[0];
        using var noGrad = torch.no_grad();
        var lossSum = torch.zeros(Array.Empty<long>(), ScalarType.Float64, hidden.device);
        var correct = torch.zeros(Array.Empty<long>(), ScalarType.Int64, hidden.device);
        for (long start = 0; start < n; start += rowsPerBlock)
        {
            using var scope = NewDisposeScope();
            long rows = Math.Min(rowsPerBlock, n - start);
            var target = targets.narrow(0, start, rows);
            var z = MixedPrecision.Matmul(hidden.narrow(0, start, rows), weight.t());
            lossSum.add_(z.logsumexp(1).sum().sub_(z.gather(1, target.unsqueeze(1)).sum()));
            correct.add_(z.argmax(1).eq(target).sum());
        }
        return (lossSum, correct);
    }
}
