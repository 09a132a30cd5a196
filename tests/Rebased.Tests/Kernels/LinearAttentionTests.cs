using Rebased.Kernels;
using Rebased.Kernels.LinearAttention;

namespace Rebased.Tests.Kernels;

public class LinearAttentionTests
{
    public LinearAttentionTests() => TorchRuntime.EnsureLoaded();

    public static TheoryData<string, int> FormCases()
    {
        TorchRuntime.EnsureLoaded();
        var data = new TheoryData<string, int>();
        foreach (var form in new[] { "naive", "chunked", "recurrent", "fused" })
            for (int i = 0; i < LinearAttentionCheck.CoveringCases.Count; i++)
                if (LinearAttentionCheck.Applies(LinearAttentionForms.Get(form, CPU, ScalarType.Float32), LinearAttentionCheck.CoveringCases[i])) data.Add(form, i);
        return data;
    }

    [Theory]
    [MemberData(nameof(FormCases))]
    public void Fp32FormMatchesFloat64Reference(string formName, int caseIndex)
    {
        var c = LinearAttentionCheck.CoveringCases[caseIndex];
        var form = LinearAttentionForms.Get(formName, CPU, ScalarType.Float32);
        var result = LinearAttentionCheck.Run(form, c, CPU, ScalarType.Float32, seed: 1000 + caseIndex);
        Assert.Null(result.Skipped);
        Assert.True(result.Passed, $"{formName} {c}: relative errors y {result.Y:E2}, dq {result.Dq:E2}, dk {result.Dk:E2}, dv {result.Dv:E2} > {result.Tolerance:E0}");
    }

    public static TheoryData<string, int, string> SixteenBitCases()
    {
        var data = new TheoryData<string, int, string>();
        foreach (var form in new[] { "naive", "chunked" })
            for (int i = 0; i < LinearAttentionCheck.CoveringCases.Count; i++)
                if (LinearAttentionCheck.CoveringCases[i].T <= 64)
                    foreach (var dtype in new[] { "bf16", "fp16" }) data.Add(form, i, dtype);
        return data;
    }

    /// <summary>The 16-bit path of `bench kernels --check` on CPU (in bf16 the naive form once failed T = 64, D = 32 at 0.1 in dq).</summary>
    [Theory]
    [MemberData(nameof(SixteenBitCases))]
    public void SixteenBitFormMatchesFloat64Reference(string formName, int caseIndex, string dtypeName)
    {
        var dtype = dtypeName == "bf16" ? ScalarType.BFloat16 : ScalarType.Float16;
        var c = LinearAttentionCheck.CoveringCases[caseIndex];
        var result = LinearAttentionCheck.Run(LinearAttentionForms.Get(formName, CPU, dtype), c, CPU, dtype, seed: 1000 + caseIndex);
        Assert.True(result.Passed, $"{formName} {dtypeName} {c}: errors y {result.Y:E2}, dq {result.Dq:E2}, dk {result.Dk:E2}, dv {result.Dv:E2} > {result.Tolerance:E0}");
    }

    [Fact]
    public void ScaledErrorIsRelativeUnlessTheReferenceIsBelowItsScale()
    {
        using var reference = tensor(new double[] { 3, 4 });
        using var ours = tensor(new double[] { 3, 4.5 });
        Assert.Equal(0.1, TensorErrors.Scaled(ours, reference, scale: 1), 12);
        Assert.Equal(0.05, TensorErrors.Scaled(ours, reference, scale: 10), 12);

        using var nearZero = tensor(new double[] { 1e-12, -1e-12 });
        using var rounded = tensor(new double[] { 3e-4, -4e-4 });
        using var wrong = tensor(new double[] { 0.3, -0.4 });
        Assert.True(TensorErrors.Relative(rounded, nearZero) > 1e7);
        Assert.Equal(5e-4, TensorErrors.Scaled(rounded, nearZero, scale: 1), 9);
        Assert.Equal(0.5, TensorErrors.Scaled(wrong, nearZero, scale: 1), 9);
        Assert.True(double.IsNaN(TensorErrors.Scaled(ones(3), ones(2), scale: 1)));
    }

    [Fact]
    public void RecurrentIsCheckedAtFourSequenceLengthsAtLeast()
    {
        var lengths = LinearAttentionCheck.CoveringCases.Where(c => LinearAttentionCheck.Applies(new Recurrent(), c)).Select(c => c.T).Distinct();
        Assert.True(lengths.Count() >= 4, $"recurrent checked only at T = {string.Join(", ", lengths)}");
    }

    [Theory]
    [InlineData(PolynomialKernel.Rebased)]
    [InlineData(PolynomialKernel.Based)]
    public void NaiveFloat64MatchesPlainLoop(PolynomialKernel kernel)
    {
        const int t = 9, d = 3, dv = 2;
        const double scale = 0.7, eps = 1e-3;
        using var scope = NewDisposeScope();
        var generator = new Generator(7);
        var q = randn([1, 1, t, d], ScalarType.Float64, generator: generator);
        var k = randn([1, 1, t, d], ScalarType.Float64, generator: generator);
        var v = randn([1, 1, t, dv], ScalarType.Float64, generator: generator);
        var y = new Naive().Forward(q, k, v, kernel, scale, eps);
        var (qa, ka, va, ya) = (q.data<double>().ToArray(), k.data<double>().ToArray(), v.data<double>().ToArray(), y.data<double>().ToArray());
        for (int i = 0; i < t; i++)
        {
            var o = new double[dv];
            double z = 0;
            for (int j = 0; j <= i; j++)
            {
                double x = 0;
                for (int e = 0; e < d; e++) x += qa[i * d + e] * ka[j * d + e];
                x *= scale;
                double a = kernel == PolynomialKernel.Rebased ? x * x : 1 + x + x * x / 2;
                z += a;
                for (int e = 0; e < dv; e++) o[e] += a * va[j * dv + e];
            }
            for (int e = 0; e < dv; e++) Assert.Equal(o[e] / (z + eps), ya[i * dv + e], 12);
        }
    }

    [Theory]
    [InlineData(PolynomialKernel.Rebased)]
    [InlineData(PolynomialKernel.Based)]
    public void NaiveFloat64GradientsMatchFiniteDifferences(PolynomialKernel kernel)
    {
        const double scale = 0.5, eps = 1e-3, h = 1e-6;
        using var scope = NewDisposeScope();
        var generator = new Generator(11);
        var inputs = new[] { randn([1, 2, 6, 3], ScalarType.Float64, generator: generator), randn([1, 2, 6, 3], ScalarType.Float64, generator: generator), randn([1, 2, 6, 4], ScalarType.Float64, generator: generator) };
        var g = randn([1, 2, 6, 4], ScalarType.Float64, generator: generator);
        double Loss(Tensor[] x) => (new Naive().Forward(x[0], x[1], x[2], kernel, scale, eps) * g).sum().item<double>();
        var leaves = inputs.Select(x => x.clone().requires_grad_()).ToArray();
        (new Naive().Forward(leaves[0], leaves[1], leaves[2], kernel, scale, eps) * g).sum().backward();
        for (int which = 0; which < 3; which++)
        {
            var grad = leaves[which].grad!.flatten();
            for (long index = 0; index < inputs[which].numel(); index += 5)
            {
                var plus = inputs.Select(x => x.clone()).ToArray();
                var minus = inputs.Select(x => x.clone()).ToArray();
                plus[which].view(-1)[index] += h;
                minus[which].view(-1)[index] -= h;
                double numeric = (Loss(plus) - Loss(minus)) / (2 * h);
                Assert.Equal(numeric, grad[index].item<double>(), 6);
            }
        }
    }

    [Theory]
    [InlineData(PolynomialKernel.Rebased)]
    [InlineData(PolynomialKernel.Based)]
    public void FusedScalarFallbackMatchesVectorisedPath(PolynomialKernel kernel)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(3);
        var q = randn([1, 2, 150, 20], generator: generator);
        var k = randn([1, 2, 150, 20], generator: generator);
        var v = randn([1, 2, 150, 13], generator: generator);
        var dy = randn([1, 2, 150, 13], generator: generator);
        double scale = 1 / Math.Sqrt(20);
        var (yv, zv) = CpuFused.ForwardRaw(q, k, v, kernel, scale, 1e-5, allowVectors: true);
        var (ys, zs) = CpuFused.ForwardRaw(q, k, v, kernel, scale, 1e-5, allowVectors: false);
        var gv = CpuFused.BackwardRaw(q, k, v, yv, zv, dy, kernel, scale, 1e-5, allowVectors: true);
        var gs = CpuFused.BackwardRaw(q, k, v, ys, zs, dy, kernel, scale, 1e-5, allowVectors: false);
        Assert.True(TensorErrors.Relative(ys, yv) < 1e-6);
        Assert.True(TensorErrors.Relative(zs, zv) < 1e-6);
        Assert.True(TensorErrors.Relative(gs.Dq, gv.Dq) < 1e-6);
        Assert.True(TensorErrors.Relative(gs.Dk, gv.Dk) < 1e-6);
        Assert.True(TensorErrors.Relative(gs.Dv, gv.Dv) < 1e-6);
        var reference = new Naive().Forward(q.to(ScalarType.Float64), k.to(ScalarType.Float64), v.to(ScalarType.Float64), kernel, scale, 1e-5);
        Assert.True(TensorErrors.Relative(ys.to(ScalarType.Float64), reference) < 1e-5);
    }

    [Theory]
    [InlineData(PolynomialKernel.Rebased)]
    [InlineData(PolynomialKernel.Based)]
    public void DecodingStepByStepEqualsTheFusedForm(PolynomialKernel kernel)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(5);
        var q = randn([2, 3, 40, 8], generator: generator);
        var k = randn([2, 3, 40, 8], generator: generator);
        var v = randn([2, 3, 40, 6], generator: generator);
        var whole = new CpuFused().Forward(q, k, v, kernel, 0.35, 1e-5);
        var state = Recurrent.DecodeState.Empty(2, 3, 8, 6, kernel, Recurrent.StateDtype(ScalarType.Float32), CPU);
        for (long t = 0; t < 40; t++)
        {
            var (y, next) = Recurrent.Step(state, q[.., .., t], k[.., .., t], v[.., .., t], kernel, 0.35, 1e-5);
            Assert.True(TensorErrors.Relative(y, whole[.., .., t]) < 1e-5, $"token {t}");
            state = next;
        }
    }

    [Fact]
    public void AutoPrefersFusedOnCpuFloat32AndChunkedElsewhere()
    {
        Assert.IsType<CpuFused>(LinearAttentionForms.Auto(CPU, ScalarType.Float32));
        Assert.IsType<CpuFused>(LinearAttentionForms.Get("auto", CPU, ScalarType.Float32));
        Assert.IsType<Chunked>(LinearAttentionForms.Auto(CPU, ScalarType.Float64));
        Assert.IsType<Naive>(LinearAttentionForms.Get("naive", CPU, ScalarType.Float32));
        Assert.Contains("does not support", Assert.Throws<UserError>(() => LinearAttentionForms.Get("fused", CPU, ScalarType.Float64)).Message);
        Assert.Contains("unknown linear-attention form 'flash'", Assert.Throws<UserError>(() => LinearAttentionForms.Get("flash", CPU, ScalarType.Float32)).Message);
    }

    [Fact]
    public void FusedRejectsUnsupportedInputsWithAClearMessage()
    {
        using var scope = NewDisposeScope();
        var big = zeros(1, 1, 4, 129);
        var error = Assert.Throws<ArgumentException>(() => new CpuFused().Forward(big, big, zeros(1, 1, 4, 2), PolynomialKernel.Rebased, 0.1, 1e-5));
        Assert.Contains("D ≤ 128", error.Message);
    }
}
