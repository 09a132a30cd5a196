using Rebased.Kernels;

namespace Rebased.Tests.Kernels;

/// <summary>What the GLA and delta-rule form tests assert alike.</summary>
internal static class FormCheckAsserts
{
    public static void AssertPassed(FormCheckResult result, string what) =>
        Assert.True(result.Passed, $"{what}: {string.Join(", ", result.Errors.Select(e => $"{e.Quantity} {e.Error:E2}"))}");

    /// <summary>Every case passes, case i checked with seed <paramref name="firstSeed"/> + i.</summary>
    public static void AssertEveryCasePasses<TCase>(string form, IReadOnlyList<TCase> cases, long firstSeed, Func<TCase, long, FormCheckResult> check)
    {
        for (int i = 0; i < cases.Count; i++)
            AssertPassed(check(cases[i], firstSeed + i), $"{form} {cases[i]}");
    }

    /// <summary>Two tokens of one head as a float64 [1, 1, 2, W] tensor.</summary>
    public static Tensor TwoTokens(double[] first, double[] second) =>
        tensor(first.Concat(second).ToArray(), ScalarType.Float64).reshape(1, 1, 2, first.Length);

    /// <summary>The two outputs of a one-wide value match their closed forms to 12 digits.</summary>
    public static void AssertTwoOutputs(Tensor o, double first, double second)
    {
        var values = o.data<double>().ToArray();
        Assert.Equal(first, values[0], 12);
        Assert.Equal(second, values[1], 12);
    }
}
