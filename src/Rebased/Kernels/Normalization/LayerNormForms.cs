using Rebased.Native;

namespace Rebased.Kernels.Normalization;

/// <summary>
/// Layer normalisation over the last dimension, y = (x − mean)/√(var + eps)·weight + bias with the biased variance
/// (weight and bias may be null). <see cref="Naive"/> is libtorch's layer_norm (any device and dtype);
/// <see cref="Fused"/> runs CudaLayerNorm.cu, one warp per row with the row in registers, whose forward and backward
/// each read the rows once: libtorch's kernels are far from the memory bandwidth on the narrow rows (128–256 wide)
/// of these models.
/// </summary>
public static class LayerNormForms
{
    /// <summary>The widest rows the fused kernels take (32 registers per lane); wider ones go to <see cref="Naive"/>.</summary>
    public const int MaxFusedWidth = 1024;

    /// <summary>Environment variable that turns the fused kernels off (value 0), for side-by-side measurements.</summary>
    public const string FusedVariable = "REBASED_FUSED_LAYER_NORM";

    public static bool FusedEnabled { get; set; } = Environment.GetEnvironmentVariable(FusedVariable) != "0";

    /// <summary>The fused form where it supports the tensors (and is enabled), libtorch's otherwise.</summary>
    public static Tensor Apply(Tensor x, Tensor? weight, Tensor? bias, double eps) =>
        FusedEnabled && FusedSupports(x, weight, bias) ? Fused(x, weight, bias, eps) : Naive(x, weight, bias, eps);

    /// <summary>Float32 CUDA input with rows of 1 to <see cref="MaxFusedWidth"/>, and float32 [width] weight and bias (or none) on its device.</summary>
    public static bool FusedSupports(Tensor x, Tensor? weight, Tensor? bias) =>
        x.device.type == DeviceType.CUDA && x.dtype == ScalarType.Float32 && x.dim() >= 1 && x.shape[^1] is >= 1 and <= MaxFusedWidth
        && IsParameterFor(weight, x) && IsParameterFor(bias, x);

    private static bool IsParameterFor(Tensor? parameter, Tensor x) =>
        parameter is null
        || (parameter.dtype == ScalarType.Float32 && parameter.dim() == 1 && parameter.shape[0] == x.shape[^1]
            && parameter.device.type == x.device.type && parameter.device.index == x.device.index);

    public static Tensor Naive(Tensor x, Tensor? weight, Tensor? bias, double eps) =>
        nn.functional.layer_norm(x, new[] { x.shape[^1] }, weight, bias, eps);

    public static Tensor Fused(Tensor x, Tensor? weight, Tensor? bias, double eps)
    {
        if (!FusedSupports(x, weight, bias))
            throw new ArgumentException($"fused layer norm needs a float32 CUDA input with rows of 1 to {MaxFusedWidth} and float32 [width] weight and bias (or none) on its device; " +
                $"got {x.dtype} [{string.Join(", ", x.shape)}] on {x.device}, weight {Describe(weight)}, bias {Describe(bias)}");
        return LayerNormFunction.apply(x, weight, bias, eps);
    }

    private static string Describe(Tensor? t) => t is null ? "none" : $"{t.dtype} [{string.Join(", ", t.shape)}] on {t.device}";

    /// <summary>y (x's shape), and the mean and 1/√(var + eps) of each row [rows] for the backward; x contiguous.</summary>
    internal static unsafe (Tensor Y, Tensor Mean, Tensor Rstd) ForwardRaw(Tensor x, Tensor? weight, Tensor? bias, double eps)
    {
        using var scope = NewDisposeScope();
        int width = (int)x.shape[^1];
        long rows = x.numel() / width;
        weight = weight?.contiguous();
        bias = bias?.contiguous();
        var y = empty(x.shape, ScalarType.Float32, x.device);
        var mean = empty(rows, ScalarType.Float32, x.device);
        var rstd = empty(rows, ScalarType.Float32, x.device);
        if (rows > 0)
        {
            IntPtr xp = DevicePointers.Of(x), wp = DevicePointers.Of(weight), bp = DevicePointers.Of(bias);
            IntPtr yp = DevicePointers.Of(y), mp = DevicePointers.Of(mean), rp = DevicePointers.Of(rstd);
            float e = (float)eps;
            void** args = stackalloc void*[] { &xp, &wp, &bp, &yp, &mp, &rp, &rows, &width, &e };
            CudaModules.Launch(x, SourceFile, Defines(width), ForwardKernel, ((uint)((rows + Warps - 1) / Warps), 1, 1), Threads, 0, args);
        }
        return (y.MoveToOuterDisposeScope(), mean.MoveToOuterDisposeScope(), rstd.MoveToOuterDisposeScope());
    }

    /// <summary>dx (x's shape), and dweight and dbias [width] where weight and bias exist, from the forward's mean and rstd; x contiguous.</summary>
    internal static unsafe (Tensor Dx, Tensor? Dweight, Tensor? Dbias) BackwardRaw(Tensor dy, Tensor x, Tensor? weight, bool hasBias, Tensor mean, Tensor rstd)
    {
        using var scope = NewDisposeScope();
        int width = (int)x.shape[^1];
        long rows = x.numel() / width;
        dy = dy.contiguous();
        weight = weight?.contiguous();
        var dx = empty(x.shape, ScalarType.Float32, x.device);
        long blocks = Math.Min(MaxBackwardBlocks, (rows + Warps - 1) / Warps);
        var dweightPart = weight is null ? null : empty(new[] { blocks, width }, ScalarType.Float32, x.device);
        var dbiasPart = hasBias ? empty(new[] { blocks, width }, ScalarType.Float32, x.device) : null;
        if (rows > 0)
        {
            IntPtr dyp = DevicePointers.Of(dy), xp = DevicePointers.Of(x), wp = DevicePointers.Of(weight);
            IntPtr mp = DevicePointers.Of(mean), rp = DevicePointers.Of(rstd), dxp = DevicePointers.Of(dx);
            IntPtr dwp = DevicePointers.Of(dweightPart), dbp = DevicePointers.Of(dbiasPart);
            void** args = stackalloc void*[] { &dyp, &xp, &wp, &mp, &rp, &dxp, &dwp, &dbp, &rows, &width };
            CudaModules.Launch(x, SourceFile, Defines(width), BackwardKernel, ((uint)blocks, 1, 1), Threads, 0, args);
        }
        var dweight = dweightPart?.sum(new long[] { 0 });
        var dbias = dbiasPart?.sum(new long[] { 0 });
        return (dx.MoveToOuterDisposeScope(), dweight?.MoveToOuterDisposeScope(), dbias?.MoveToOuterDisposeScope());
    }

    /// <summary>The macro definitions of the kernels for rows of <paramref name="width"/> values.</summary>
    internal static string[] Defines(int width) => [$"LN_CHUNKS={(width + 31) / 32}"];

    private const string SourceFile = "CudaLayerNorm.cu";
    private const string ForwardKernel = "layer_norm_forward";
    private const string BackwardKernel = "layer_norm_backward";
    private const int Warps = 8;
    private const uint Threads = Warps * 32;

    /// <summary>
    /// The backward's grid: rows are strided over at most this many blocks (a few per SM of an H200's 132), so that
    /// the per-block partial sums of dweight and dbias, [blocks, width] each, stay small.
    /// </summary>
    private const long MaxBackwardBlocks = 1024;

    /// <summary>Saves x, weight, mean and rstd; the backward returns dx, and dweight and dbias where they exist.</summary>
    private sealed class LayerNormFunction : autograd.SingleTensorFunction<LayerNormFunction>
    {
        public override string Name => nameof(LayerNormFunction);

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var x = ((Tensor)vars[0]).contiguous();
            var (weight, bias, eps) = ((Tensor?)vars[1], (Tensor?)vars[2], (double)vars[3]);
            var (y, mean, rstd) = ForwardRaw(x, weight, bias, eps);
            ctx.save_for_backward([x, weight!, mean, rstd]);
            ctx.save_data("hasBias", bias is not null);
            return y;
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output) =>
            AutogradTemporaries.Backward(ctx, grad_output, saved =>
            {
                var (dx, dweight, dbias) = BackwardRaw(grad_output, saved[0], saved[1], (bool)ctx.get_data("hasBias"), saved[2], saved[3]);
                return [dx, dweight!, dbias!, null!];
            });
    }
}

/// <summary>A form of <see cref="LayerNormForms"/> against autograd through layer_norm in float64.</summary>
public static class LayerNormCheck
{
    /// <summary>Input shapes (the last dimension is normalised), whether they get weight and bias, and whether the input is a transposed (non-contiguous) view (2-D only).</summary>
    private static readonly (long[] Shape, bool Affine, bool Transposed)[] Cases =
    [
        ([4, 250, 128], true, false),
        ([77, 192], true, true),
        ([5, 1000], true, false),
        ([3, 7, 256], false, false),
    ];

    /// <summary>
    /// The worst relative errors ‖form − ref‖/‖ref‖ over the cases of y and of the gradients of x, weight and bias,
    /// for a random output gradient, on inputs whose rows have means of about 3 and deviations of about 2.
    /// </summary>
    public static (double Output, double Input, double Weight, double Bias) Compare(Func<Tensor, Tensor?, Tensor?, double, Tensor> form, Device device)
    {
        double output = 0, input = 0, weight = 0, bias = 0;
        for (int i = 0; i < Cases.Length; i++)
        {
            var errors = Compare(form, device, Cases[i].Shape, Cases[i].Affine, Cases[i].Transposed, seed: 20240301 + i);
            output = Math.Max(output, errors.Output);
            input = Math.Max(input, errors.Input);
            weight = Math.Max(weight, errors.Weight);
            bias = Math.Max(bias, errors.Bias);
        }
        return (output, input, weight, bias);
    }

    /// <summary>The relative errors of one case (0 for the weight and bias gradients without affine parameters).</summary>
    public static (double Output, double Input, double Weight, double Bias) Compare(Func<Tensor, Tensor?, Tensor?, double, Tensor> form, Device device,
        long[] shape, bool affine, bool transposed, int seed)
    {
        const double eps = 1e-5;
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        long width = shape[^1];
        var x = (randn(shape, ScalarType.Float64, generator: generator) * 2 + 3).to(ScalarType.Float32);
        var w = affine ? (1 + 0.5 * randn(new[] { width }, ScalarType.Float64, generator: generator)).to(ScalarType.Float32) : null;
        var b = affine ? (0.5 * randn(new[] { width }, ScalarType.Float64, generator: generator)).to(ScalarType.Float32) : null;
        var probe = randn(shape, ScalarType.Float64, generator: generator);

        var referenceX = x.to(ScalarType.Float64).requires_grad_(true);
        var referenceW = w?.to(ScalarType.Float64).requires_grad_(true);
        var referenceB = b?.to(ScalarType.Float64).requires_grad_(true);
        var reference = nn.functional.layer_norm(referenceX, new[] { width }, referenceW, referenceB, eps);
        (reference * probe).sum().backward();

        // A transposed case passes the transpose of a contiguous [width, rows] leaf: a non-contiguous input.
        var ourX = (transposed ? x.t().contiguous() : x).to(device).requires_grad_(true);
        var ourW = w?.to(device).requires_grad_(true);
        var ourB = b?.to(device).requires_grad_(true);
        var y = form(transposed ? ourX.t() : ourX, ourW, ourB, eps);
        using (AutogradTemporaries.Collect())
            (y * probe.to(ScalarType.Float32).to(device)).sum().backward();
        var dx = transposed ? ourX.grad!.t() : ourX.grad!;

        return (TensorErrors.Relative(y, reference.detach()), TensorErrors.Relative(dx, referenceX.grad!),
            ourW is null ? 0 : TensorErrors.Relative(ourW.grad!, referenceW!.grad!),
            ourB is null ? 0 : TensorErrors.Relative(ourB.grad!, referenceB!.grad!));
    }
}
