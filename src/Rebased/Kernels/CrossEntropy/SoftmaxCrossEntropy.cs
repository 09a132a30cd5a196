using Rebased.Native;

namespace Rebased.Kernels.CrossEntropy;

/// <summary>
/// Softmax cross-entropy of rows of logits together with its gradient, computed in place: z ← scale·(softmax(z) −
/// onehot(target)); returns the per-row losses logsumexp(z) − z[target]. <see cref="Naive"/> composes libtorch
/// operations (any device); <see cref="Fused"/> is one CUDA kernel that reads the logits once from memory and
/// writes the gradient once, where the composition makes about six passes over them.
/// </summary>
public static class SoftmaxCrossEntropy
{
    /// <summary>Per-row losses [N]; <paramref name="logits"/> [N, V] becomes the scaled gradient.</summary>
    public static Tensor InPlace(Tensor logits, Tensor targets, double scale) =>
        FusedEnabled && FusedSupports(logits) ? Fused(logits, targets, scale) : Naive(logits, targets, scale);

    /// <summary>Environment variable that turns the fused kernel off (value 0), for side-by-side measurements.</summary>
    public const string FusedVariable = "REBASED_FUSED_CROSS_ENTROPY";

    public static bool FusedEnabled { get; set; } = Environment.GetEnvironmentVariable(FusedVariable) != "0";

    public static bool FusedSupports(Tensor logits) =>
        logits.device.type == DeviceType.CUDA && logits.dtype == ScalarType.Float32 && logits.dim() == 2 && logits.is_contiguous();

    public static Tensor Naive(Tensor logits, Tensor targets, double scale)
    {
        using var scope = NewDisposeScope();
        var target = targets.unsqueeze(1);
        var picked = logits.gather(1, target).squeeze(1);
        var max = logits.amax(new long[] { 1 }, keepdim: true);
        var sum = logits.sub_(max).exp_().sum(1, keepdim: true);
        var loss = sum.log().add_(max).squeeze(1).sub_(picked);
        logits.div_(sum).scatter_add_(1, target, full(target.shape, -1f, logits.dtype, logits.device)).mul_(scale);
        return loss.MoveToOuterDisposeScope();
    }

    public static unsafe Tensor Fused(Tensor logits, Tensor targets, double scale)
    {
        if (!FusedSupports(logits))
            throw new ArgumentException($"fused cross-entropy needs contiguous float32 [N, V] logits on a CUDA device, got {logits.dtype} [{string.Join(", ", logits.shape)}] on {logits.device}");
        if (targets.dtype != ScalarType.Int64 || targets.numel() != logits.shape[0] || targets.device.ToString() != logits.device.ToString())
            throw new ArgumentException($"fused cross-entropy needs int64 targets [{logits.shape[0]}] on {logits.device}");
        var t = targets.contiguous();
        var loss = empty(logits.shape[0], ScalarType.Float32, logits.device);
        if (logits.shape[0] == 0) return loss;
        IntPtr zp = DevicePointers.Of(logits), tp = DevicePointers.Of(t), lp = DevicePointers.Of(loss);
        int vocab = (int)logits.shape[1];
        float s = (float)scale;
        void** args = stackalloc void*[] { &zp, &tp, &lp, &vocab, &s };
        CudaModules.Launch(logits, "CudaCrossEntropy.cu", [], KernelName, ((uint)logits.shape[0], 1, 1), Threads, 0, args);
        if (!ReferenceEquals(t, targets)) t.Dispose();
        return loss;
    }

    private const uint Threads = 256;
    private const string KernelName = "softmax_cross_entropy";
}

/// <summary>A form of <see cref="SoftmaxCrossEntropy"/> against autograd through cross_entropy in float64.</summary>
public static class SoftmaxCrossEntropyCheck
{
    /// <summary>Relative errors ‖form − ref‖/‖ref‖ of the per-row losses and of the gradient, on random logits with large and tied values.</summary>
    public static (double Loss, double Gradient) Compare(Func<Tensor, Tensor, double, Tensor> form, Device device, long rows = 67, long vocab = 3001)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(20240214);
        var logits = (randn(new[] { rows, vocab }, ScalarType.Float64, generator: generator) * 6).to(ScalarType.Float32);
        logits[0] = full(vocab, 3.5f);
        var targets = randint(0, vocab, new[] { rows }, generator: generator);
        const double scale = 0.37;

        var leaf = logits.to(ScalarType.Float64).requires_grad_(true);
        var referenceLoss = nn.functional.cross_entropy(leaf, targets, reduction: nn.Reduction.None);
        (referenceLoss.sum() * scale).backward();

        var gradient = logits.to(device);
        var loss = form(gradient, targets.to(device), scale);
        return (TensorErrors.Relative(loss, referenceLoss.detach()), TensorErrors.Relative(gradient, leaf.grad!));
    }
}
