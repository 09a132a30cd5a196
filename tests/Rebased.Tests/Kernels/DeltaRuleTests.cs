using Rebased.Kernels;
using Rebased.Kernels.DeltaRule;
using static Rebased.Tests.Kernels.FormCheckAsserts;

namespace Rebased.Tests.Kernels;

public class DeltaRuleTests
{
    public DeltaRuleTests() => TorchRuntime.EnsureLoaded();

    public static TheoryData<int, int> ChunkedCases()
    {
        var data = new TheoryData<int, int>();
        foreach (var chunk in new[] { 64, 16, 5, 1 })
            for (int i = 0; i < DeltaRuleCheck.CoveringCases.Count; i++)
                data.Add(chunk, i);
        return data;
    }

    [Theory]
    [MemberData(nameof(ChunkedCases))]
    public void ChunkedMatchesRecurrentInFloat64(int chunkSize, int caseIndex)
    {
        var c = DeltaRuleCheck.CoveringCases[caseIndex];
        var result = DeltaRuleCheck.Run(new DeltaRuleChunked(chunkSize), c, CPU, ScalarType.Float64, seed: 500 + caseIndex);
        AssertPassed(result, $"chunk {chunkSize} {c}");
    }

    [Theory]
    [InlineData("chunked")]
    [InlineData("recurrent")]
    public void Fp32FormsMatchTheFloat64Recurrence(string name)
    {
        var form = DeltaRuleForms.Registry.Get(name, CPU, ScalarType.Float32);
        AssertEveryCasePasses(name, DeltaRuleCheck.CoveringCases, firstSeed: 600, (c, seed) => DeltaRuleCheck.Run(form, c, CPU, ScalarType.Float32, seed));
    }

    /// <summary>
    /// T = 2, Dk = 2, Dv = 1 in closed form: u_1 = β_1 v_1, o_1 = s (q_1·k_1) u_1; u_2 = β_2 (v_2 − (k_1·k_2) u_1),
    /// o_2 = s ((q_2·k_1) u_1 + (q_2·k_2) u_2).
    /// </summary>
    [Theory]
    [InlineData("chunked")]
    [InlineData("recurrent")]
    public void TwoTokensMatchTheClosedForm(string name)
    {
        double[] q1 = [0.6, 0.8], q2 = [1.0, 0.0], k1 = [0.8, -0.6], k2 = [0.28, 0.96];
        double v1 = 3.0, v2 = -2.0, beta1 = 0.25, beta2 = 0.9, s = 0.7;
        static double Dot(double[] a, double[] b) => a[0] * b[0] + a[1] * b[1];
        double u1 = beta1 * v1, u2 = beta2 * (v2 - Dot(k1, k2) * u1);
        double o1 = s * Dot(q1, k1) * u1, o2 = s * (Dot(q2, k1) * u1 + Dot(q2, k2) * u2);

        var o = DeltaRuleForms.Registry.Get(name, CPU, ScalarType.Float64).Forward(
            TwoTokens(q1, q2), TwoTokens(k1, k2), TwoTokens([v1], [v2]), tensor(new[] { beta1, beta2 }).reshape(1, 1, 2), s);
        AssertTwoOutputs(o, o1, o2);
    }

    /// <summary>With β = 1 and a unit key, the rule overwrites what the key retrieves: querying with k_t returns exactly v_t.</summary>
    [Fact]
    public void FullStepWritesTheValueUnderItsKey()
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(9);
        var k = nn.functional.normalize(randn([1, 2, 90, 6], ScalarType.Float64, generator: generator), dim: -1);
        var v = randn([1, 2, 90, 4], ScalarType.Float64, generator: generator);
        var o = new DeltaRuleChunked(16).Forward(k, k, v, ones([1, 2, 90], ScalarType.Float64), 1.0);
        Assert.True(TensorErrors.Relative(o, v) < 1e-12);
    }

    [Fact]
    public void AutoIsTheDeclaredPreference()
    {
        Assert.Equal("chunked", DeltaRuleForms.Registry.Get("auto", CPU, ScalarType.Float32).Name);
        Assert.Equal("recurrent", DeltaRuleForms.Registry.Get("recurrent", CPU, ScalarType.BFloat16).Name);
        Assert.Throws<UserError>(() => DeltaRuleForms.Registry.Get("naive", CPU, ScalarType.Float32));
        Assert.Throws<UserError>(() => DeltaRuleForms.Registry.Get("auto", CPU, ScalarType.Int64));
    }
}
