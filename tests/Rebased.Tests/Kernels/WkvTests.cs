using Rebased.Kernels;
using Rebased.Kernels.Scan;

namespace Rebased.Tests.Kernels;

public class WkvTests
{
    public WkvTests() => TorchRuntime.EnsureLoaded();

    private static (Tensor Decay, Tensor First, Tensor K, Tensor V) RandomInputs(long batch, long steps, long channels,
        ScalarType dtype, double keyScale, double decayShift, int seed)
    {
        var generator = new Generator((ulong)seed);
        var decay = (randn(new[] { channels }, dtype: dtype, generator: generator) + decayShift).requires_grad_(true);
        var first = randn(new[] { channels }, dtype: dtype, generator: generator).requires_grad_(true);
        var k = (randn(new[] { batch, steps, channels }, dtype: dtype, generator: generator) * keyScale).requires_grad_(true);
        var v = randn(new[] { batch, steps, channels }, dtype: dtype, generator: generator).requires_grad_(true);
        return (decay, first, k, v);
    }

    /// <summary>The definition, term by term in float64 (no stabilisation: only for moderate inputs).</summary>
    private static Tensor DirectFloat64(Tensor decay, Tensor first, Tensor k, Tensor v)
    {
        long steps = k.shape[1];
        var w = decay.to(ScalarType.Float64).exp();
        var u = first.to(ScalarType.Float64);
        var k64 = k.to(ScalarType.Float64);
        var v64 = v.to(ScalarType.Float64);
        var outputs = new List<Tensor>();
        for (long t = 0; t < steps; t++)
        {
            var current = (u + k64.select(1, t)).exp();
            var num = current * v64.select(1, t);
            var den = current.clone();
            for (long i = 0; i < t; i++)
            {
                var weight = (-(t - 1 - i) * w + k64.select(1, i)).exp();
                num = num + weight * v64.select(1, i);
                den = den + weight;
            }
            outputs.Add(num / den);
        }
        return stack(outputs, 1);
    }

    private static Tensor[] Gradients(Tensor y, Tensor probe, params Tensor[] inputs) =>
        autograd.grad(new[] { (y * probe).sum() }, inputs).ToArray();

    [Theory]
    [InlineData("recurrent")]
    [InlineData("parallel")]
    public void EveryFormMatchesTheDefinitionInFloat64(string form)
    {
        var (decay, first, k, v) = RandomInputs(2, 37, 5, ScalarType.Float64, 1.0, -1.0, 1);
        var y = WkvForms.Get(form).Forward(decay, first, k, v);
        var expected = DirectFloat64(decay, first, k, v);
        Assert.True(TensorErrors.Relative(y, expected) < 1e-12, $"{form}: {TensorErrors.Relative(y, expected)}");

        var probe = randn(expected.shape, dtype: expected.dtype, generator: new Generator(9));
        var grads = Gradients(y, probe, decay, first, k, v);
        var expectedGrads = Gradients(expected, probe, decay, first, k, v);
        for (int i = 0; i < grads.Length; i++)
            Assert.True(TensorErrors.Relative(grads[i], expectedGrads[i]) < 1e-11, $"{form} grad {i}: {TensorErrors.Relative(grads[i], expectedGrads[i])}");
    }

    [Theory]
    [InlineData(1024, 1.0, 0.0)]    // long sequence
    [InlineData(300, 40.0, 4.0)]    // keys spanning ±120 and decays up to e^7 per step: the unstabilised sums overflow
    [InlineData(130, 30.0, -8.0)]   // almost no decay: sums over the whole sequence
    public void ParallelMatchesRecurrentInFloat32AndStaysFinite(int steps, double keyScale, double decayShift)
    {
        var (decay, first, k, v) = RandomInputs(2, steps, 8, ScalarType.Float32, keyScale, decayShift, steps);
        var recurrent = new WkvRecurrent().Forward(decay, first, k, v);
        var parallel = new WkvParallel().Forward(decay, first, k, v);
        Assert.True(parallel.isfinite().all().item<bool>());
        var exact = new WkvRecurrent().Forward(decay.to(ScalarType.Float64), first.to(ScalarType.Float64),
            k.to(ScalarType.Float64), v.to(ScalarType.Float64));
        Assert.True(TensorErrors.Relative(parallel, exact) < 2e-5, $"parallel vs float64: {TensorErrors.Relative(parallel, exact)}");
        Assert.True(TensorErrors.Relative(recurrent, exact) < 2e-5, $"recurrent vs float64: {TensorErrors.Relative(recurrent, exact)}");

        var probe = randn(recurrent.shape, dtype: recurrent.dtype, generator: new Generator(3));
        var gradsRecurrent = Gradients(recurrent, probe, decay, first, k, v);
        var gradsParallel = Gradients(parallel, probe, decay, first, k, v);
        for (int i = 0; i < gradsParallel.Length; i++)
        {
            Assert.True(gradsParallel[i].isfinite().all().item<bool>());
            Assert.True(TensorErrors.Relative(gradsParallel[i], gradsRecurrent[i]) < 1e-4,
                $"grad {i}: {TensorErrors.Relative(gradsParallel[i], gradsRecurrent[i])}");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void ShortSequencesMatchTheDefinition(int steps)
    {
        var (decay, first, k, v) = RandomInputs(1, steps, 3, ScalarType.Float64, 1.0, 0.0, 40 + steps);
        var expected = DirectFloat64(decay, first, k, v);
        foreach (var form in WkvForms.Supporting(CPU, ScalarType.Float64))
            Assert.True(TensorErrors.Relative(form.Forward(decay, first, k, v), expected) < 1e-13, form.Name);
    }

    [Fact]
    public void Bf16RoundingRoundsTheOutputAndEveryGradientOfTheExactForm()
    {
        var (decay, first, k, v) = RandomInputs(2, 20, 6, ScalarType.Float32, 1.0, -1.0, 5);
        var exactForm = new WkvParallel();
        var rounded = new Bf16RoundedWkv(exactForm);
        Assert.Equal("parallel-bf16", rounded.Name);

        var exact = exactForm.Forward(decay, first, k, v);
        var y = rounded.Forward(decay, first, k, v);
        Assert.True(y.eq(exact.to(ScalarType.BFloat16).to(ScalarType.Float32)).all().item<bool>());
        Assert.False(y.eq(exact).all().item<bool>());

        // The gradient arriving at y is rounded too (the reference's y is a bf16 tensor), then each input's gradient.
        var probe = randn(exact.shape, dtype: exact.dtype, generator: new Generator(4)) * 0.37;
        var grads = Gradients(y, probe, decay, first, k, v);
        var roundedProbe = probe.to(ScalarType.BFloat16).to(ScalarType.Float32);
        var expected = autograd.grad(new[] { exact }, new[] { decay, first, k, v }, new List<Tensor> { roundedProbe }).ToArray();
        for (int i = 0; i < grads.Length; i++)
        {
            var expectedRounded = expected[i].to(ScalarType.BFloat16).to(ScalarType.Float32);
            Assert.True(grads[i].eq(expectedRounded).all().item<bool>(), $"grad {i} is not the bf16-rounded exact gradient");
        }
    }
}
