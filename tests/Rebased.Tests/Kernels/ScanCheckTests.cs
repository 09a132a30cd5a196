using Rebased.Kernels;
using Rebased.Kernels.Scan;

namespace Rebased.Tests.Kernels;

/// <summary>The scans' form check (what `rebased bench scans --check` runs) over every registered CPU form, and that it fails a wrong one.</summary>
public class ScanCheckTests
{
    [Fact]
    public void EveryRegisteredScanFormThatRunsOnTheCpuPassesTheCheck()
    {
        var c = ScanCheck.CoveringCases[1];
        var wkv = WkvForms.Supporting(CPU, ScalarType.Float32).ToList();
        var scans = SelectiveScanForms.Supporting(CPU, ScalarType.Float32).ToList();
        Assert.Equal(["parallel", "recurrent"], wkv.Select(f => f.Name).Order());
        Assert.Equal(["parallel", "recurrent"], scans.Select(f => f.Name).Order());
        var results = wkv.Select(f => ScanCheck.Wkv(f, c, CPU, 7))
            .Concat(scans.Select(f => ScanCheck.SelectiveScan(f, c, CPU, 7)))
            .Concat(scans.Select(f => ScanCheck.SelectiveScan(f, c, CPU, 7, plain: true))).ToList();
        Assert.All(results, r => Assert.True(r.Passed, $"{r.Form}: worst {r.Worst:E2}"));
        Assert.All(results, r => Assert.InRange(r.Worst, 1e-12, 1e-5)); // float32 against float64: small, not zero
    }

    [Fact]
    public void AFormThatIsOffByATenthOfAPercentFails()
    {
        var result = ScanCheck.Wkv(new ScaledWkv(), ScanCheck.CoveringCases[1], CPU, 7);
        Assert.False(result.Passed);
        Assert.InRange(result.Errors[0].Error, 5e-4, 2e-3);
    }

    private sealed class ScaledWkv : IWkv
    {
        public string Name => "scaled";

        public Tensor Forward(Tensor timeDecay, Tensor timeFirst, Tensor k, Tensor v) => new WkvParallel().Forward(timeDecay, timeFirst, k, v) * 1.001;
    }
}
