using Rebased.Kernels;
using Rebased.Kernels.Scan;

namespace Rebased.Tests.Kernels;

public class SelectiveScanTests
{
    public SelectiveScanTests() => TorchRuntime.EnsureLoaded();

    private sealed record Inputs(Tensor U, Tensor Delta, Tensor A, Tensor B, Tensor C, Tensor D, Tensor Z, Tensor DeltaBias)
    {
        public Tensor[] All => new[] { U, Delta, A, B, C, D, Z, DeltaBias };

        public Tensor Run(ISelectiveScan form) => form.Forward(U, Delta, A, B, C, D, Z, DeltaBias, deltaSoftplus: true);
    }

    private static Inputs RandomInputs(long batch, long channels, long states, long steps, ScalarType dtype, double deltaShift, double aScale, int seed)
    {
        var g = new Generator((ulong)seed);
        Tensor Leaf(Tensor t) => t.requires_grad_(true);
        return new Inputs(
            Leaf(randn(new[] { batch, channels, steps }, dtype: dtype, generator: g)),
            Leaf(randn(new[] { batch, channels, steps }, dtype: dtype, generator: g) + deltaShift),
            Leaf(-(rand(new[] { channels, states }, dtype: dtype, generator: g) * aScale + 0.1)),
            Leaf(randn(new[] { batch, states, steps }, dtype: dtype, generator: g)),
            Leaf(randn(new[] { batch, states, steps }, dtype: dtype, generator: g)),
            Leaf(randn(new[] { channels }, dtype: dtype, generator: g)),
            Leaf(randn(new[] { batch, channels, steps }, dtype: dtype, generator: g)),
            Leaf(randn(new[] { channels }, dtype: dtype, generator: g) * 0.5));
    }

    /// <summary>The closed form h_t = Σ_{i≤t} exp(A·Σ_{i&lt;τ≤t} Δ_τ)·Δ_i·B_i·u_i in float64, without a recurrence.</summary>
    private static Tensor ClosedFormFloat64(Inputs x)
    {
        var delta = nn.functional.softplus(x.Delta.to(ScalarType.Float64) + x.DeltaBias.to(ScalarType.Float64).unsqueeze(-1));
        var u = x.U.to(ScalarType.Float64);
        var a = x.A.to(ScalarType.Float64);
        long steps = u.shape[2];
        var cumulative = delta.cumsum(2); // [B, D, L]
        // exponent[b, d, t, i, n] = A[d, n] · (cum_t − cum_i)
        var gap = (cumulative.unsqueeze(3) - cumulative.unsqueeze(2)).unsqueeze(-1) * a.unsqueeze(1).unsqueeze(1);
        var causal = ones(steps, steps, dtype: ScalarType.Bool).tril().unsqueeze(-1);
        var weights = gap.masked_fill(causal.logical_not(), double.NegativeInfinity).exp();
        var inputs = (delta * u).unsqueeze(-1) * x.B.to(ScalarType.Float64).transpose(1, 2).unsqueeze(1); // [B, D, L, N]
        var states = (weights * inputs.unsqueeze(2)).sum(3);
        var y = (states * x.C.to(ScalarType.Float64).transpose(1, 2).unsqueeze(1)).sum(-1);
        y = y + u * x.D.to(ScalarType.Float64).unsqueeze(-1);
        return y * nn.functional.silu(x.Z.to(ScalarType.Float64));
    }

    private static Tensor[] Gradients(Tensor y, Tensor probe, Tensor[] inputs) =>
        autograd.grad(new[] { (y * probe).sum() }, inputs).ToArray();

    [Theory]
    [InlineData("recurrent")]
    [InlineData("parallel")]
    public void EveryFormMatchesTheClosedFormInFloat64(string form)
    {
        var x = RandomInputs(2, 6, 4, 23, ScalarType.Float64, 0.0, 2.0, 11);
        var y = x.Run(SelectiveScanForms.Get(form));
        var expected = ClosedFormFloat64(x);
        Assert.True(TensorErrors.Relative(y, expected) < 1e-12, $"{form}: {TensorErrors.Relative(y, expected)}");

        var probe = randn(expected.shape, dtype: expected.dtype, generator: new Generator(2));
        var grads = Gradients(y, probe, x.All);
        var expectedGrads = Gradients(expected, probe, x.All);
        for (int i = 0; i < grads.Length; i++)
            Assert.True(TensorErrors.Relative(grads[i], expectedGrads[i]) < 1e-11, $"{form} grad {i}: {TensorErrors.Relative(grads[i], expectedGrads[i])}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void ShortSequencesMatchTheClosedForm(int steps)
    {
        var x = RandomInputs(1, 3, 2, steps, ScalarType.Float64, 0.0, 2.0, 40 + steps);
        var expected = ClosedFormFloat64(x);
        foreach (var form in SelectiveScanForms.Supporting(CPU, ScalarType.Float64))
            Assert.True(TensorErrors.Relative(x.Run(form), expected) < 1e-13, form.Name);
    }

    [Theory]
    [InlineData(512, 0.0, 16.0)]   // long sequence, the init's range of A (−1 … −16)
    [InlineData(200, 6.0, 60.0)]   // large steps: per-step decays down to e^−360 (underflow to 0)
    [InlineData(300, -6.0, 0.05)]  // tiny steps: states accumulate over the whole sequence
    public void ParallelMatchesRecurrentInFloat32AndStaysFinite(int steps, double deltaShift, double aScale)
    {
        var x = RandomInputs(2, 8, 16, steps, ScalarType.Float32, deltaShift, aScale, steps);
        var recurrent = x.Run(new SelectiveScanRecurrent());
        var parallel = x.Run(new SelectiveScanParallel());
        Assert.True(parallel.isfinite().all().item<bool>());
        Assert.True(TensorErrors.Relative(parallel, recurrent) < 1e-5, $"output: {TensorErrors.Relative(parallel, recurrent)}");

        var probe = randn(recurrent.shape, dtype: recurrent.dtype, generator: new Generator(5));
        var gradsRecurrent = Gradients(recurrent, probe, x.All);
        var gradsParallel = Gradients(parallel, probe, x.All);
        for (int i = 0; i < gradsParallel.Length; i++)
        {
            Assert.True(gradsParallel[i].isfinite().all().item<bool>());
            Assert.True(TensorErrors.Relative(gradsParallel[i], gradsRecurrent[i]) < 1e-4,
                $"grad {i}: {TensorErrors.Relative(gradsParallel[i], gradsRecurrent[i])}");
        }
    }

    [Fact]
    public void LinearRecurrenceScanMatchesTheStepByStepRecurrenceAlongAnyDimension()
    {
        var g = new Generator(17);
        var a = rand(new long[] { 3, 13, 2 }, dtype: ScalarType.Float64, generator: g).requires_grad_(true);
        var b = randn(new long[] { 3, 13, 2 }, dtype: ScalarType.Float64, generator: g).requires_grad_(true);
        var h = LinearRecurrence.Scan(a, b, 1);
        var state = zeros(3, 2, dtype: ScalarType.Float64);
        var steps = new List<Tensor>();
        for (long t = 0; t < 13; t++)
        {
            state = a.select(1, t) * state + b.select(1, t);
            steps.Add(state);
        }
        var expected = stack(steps, 1);
        Assert.True(TensorErrors.Relative(h, expected) < 1e-14);
        var probe = randn(h.shape, dtype: h.dtype, generator: g);
        var grads = Gradients(h, probe, new[] { a, b });
        var expectedGrads = Gradients(expected, probe, new[] { a, b });
        Assert.True(TensorErrors.Relative(grads[0], expectedGrads[0]) < 1e-13);
        Assert.True(TensorErrors.Relative(grads[1], expectedGrads[1]) < 1e-13);
    }
}
