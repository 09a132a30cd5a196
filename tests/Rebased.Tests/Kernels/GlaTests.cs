using Rebased.Kernels;
using Rebased.Kernels.Gla;
using static Rebased.Tests.Kernels.FormCheckAsserts;

namespace Rebased.Tests.Kernels;

public class GlaTests
{
    public GlaTests() => TorchRuntime.EnsureLoaded();

    public static TheoryData<int, int, int> ChunkedCases()
    {
        var data = new TheoryData<int, int, int>();
        foreach (var (chunk, sub) in new[] { (64, 16), (16, 16), (32, 8), (12, 4), (2, 1) })
            for (int i = 0; i < GlaCheck.CoveringCases.Count; i++)
                data.Add(chunk, sub, i);
        return data;
    }

    [Theory]
    [MemberData(nameof(ChunkedCases))]
    public void ChunkedMatchesRecurrentInFloat64(int chunkSize, int subChunkSize, int caseIndex)
    {
        var c = GlaCheck.CoveringCases[caseIndex];
        var result = GlaCheck.Run(new GlaChunked(chunkSize, subChunkSize), c, CPU, ScalarType.Float64, seed: 300 + caseIndex);
        AssertPassed(result, $"chunk {chunkSize}/{subChunkSize} {c}");
    }

    [Theory]
    [InlineData("chunked")]
    [InlineData("recurrent")]
    public void Fp32FormsMatchTheFloat64Recurrence(string name)
    {
        var form = GlaForms.Registry.Get(name, CPU, ScalarType.Float32);
        AssertEveryCasePasses(name, GlaCheck.CoveringCases, firstSeed: 400, (c, seed) => GlaCheck.Run(form, c, CPU, ScalarType.Float32, seed));
    }

    /// <summary>
    /// T = 2, Dk = 2, Dv = 1 in closed form: o_1 = s (q_1·k_1) v_1, o_2 = s Σ_d q_2d (exp(g_2d) k_1d v_1 + k_2d v_2)
    /// (g_1 does not matter: it decays the empty state).
    /// </summary>
    [Theory]
    [InlineData("chunked")]
    [InlineData("recurrent")]
    public void TwoTokensMatchTheClosedForm(string name)
    {
        double[] q1 = [0.5, -1.0], q2 = [2.0, 0.25], k1 = [1.5, 0.5], k2 = [-0.5, 1.0], g2 = [-0.2, -1.3];
        double v1 = 3.0, v2 = -2.0, s = 0.7;
        double o1 = s * (q1[0] * k1[0] + q1[1] * k1[1]) * v1;
        double o2 = s * Enumerable.Range(0, 2).Sum(d => q2[d] * (Math.Exp(g2[d]) * k1[d] * v1 + k2[d] * v2));

        var o = GlaForms.Registry.Get(name, CPU, ScalarType.Float64).Forward(
            TwoTokens(q1, q2), TwoTokens(k1, k2), TwoTokens([v1], [v2]), TwoTokens([-0.4, -0.9], g2), s);
        AssertTwoOutputs(o, o1, o2);
    }

    [Fact]
    public void StrongDecayStaysFiniteInFp32()
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(5);
        var q = randn([1, 2, 200, 8], generator: generator);
        var k = randn([1, 2, 200, 8], generator: generator);
        var v = randn([1, 2, 200, 8], generator: generator);
        var g = full([1, 2, 200, 8], -30.0f);
        var o = new GlaChunked().Forward(q, k, v, g, 0.5);
        var expected = new GlaRecurrent().Forward(q, k, v, g, 0.5);
        Assert.True(o.isfinite().all().item<bool>());
        Assert.True(TensorErrors.Relative(o, expected) < 1e-6);
    }

    [Fact]
    public void AutoIsTheDeclaredPreference()
    {
        Assert.Equal("chunked", GlaForms.Registry.Get("auto", CPU, ScalarType.Float32).Name);
        Assert.Equal(["chunked", "recurrent"], GlaForms.Registry.Names);
        var error = Assert.Throws<UserError>(() => GlaForms.Registry.Get("fused", CPU, ScalarType.Float32));
        Assert.Contains("known: auto, chunked, recurrent", error.Message);
        Assert.Throws<ArgumentException>(() => new KernelForms<IGatedLinearAttention>("gla", [new GlaChunked(), new GlaRecurrent()], ["chunked"]));
        Assert.Throws<ArgumentException>(() => new GlaChunked(24, 16));
    }
}
