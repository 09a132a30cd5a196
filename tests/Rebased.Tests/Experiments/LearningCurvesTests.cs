using System.Text.Json.Nodes;
using Rebased.Experiments;

namespace Rebased.Tests.Experiments;

public class LearningCurvesTests
{
    static LearningCurve Curve(params double[] accuracy) => new("rebased", 128, 64, 1e-3, 42, accuracy);

    [Theory]
    [InlineData(new[] { 0.0, 0.1, 0.95 }, new[] { 0.0, 0.0, 0.0, 0.0, 0.92 }, true)]     // 3 vs 5: within 2
    [InlineData(new[] { 0.0, 0.1, 0.95 }, new[] { 0.0, 0.0, 0.0, 0.0, 0.0, 0.91 }, false)] // 3 vs 6
    [InlineData(new[] { 0.0, 0.1, 0.95 }, new[] { 0.0, 0.0, 0.0, 0.0 }, null)]            // ours too short to tell
    [InlineData(new[] { 0.0, 0.1, 0.95 }, new[] { 0.0, 0.0, 0.0, 0.0, 0.5 }, false)]      // 5 epochs, never above 0.9
    [InlineData(new[] { 0.0002, 0.0003 }, new[] { 0.0001, 0.004, 0.5 }, true)]            // chance over the reference's epochs
    [InlineData(new[] { 0.0002, 0.0003 }, new[] { 0.0001, 0.2 }, false)]                  // ours learned where it did not
    [InlineData(new[] { 0.3, 0.8 }, new[] { 0.3, 0.8 }, null)]                             // reference neither passed nor at chance
    public void TheTargetIsTheFirstEpochAbove09WithinTwoOrChanceWhereTheReferenceStayedThere(double[] reference, double[] ours, bool? meets)
    {
        var comparison = new CurveComparison("c", Curve(ours), Curve(reference));
        Assert.Equal(meets, comparison.MeetsTarget);
    }

    [Fact]
    public void RunsArePairedWithTheReferenceOfTheSameConfigAndSeed()
    {
        var dir = Directory.CreateTempSubdirectory("curves").FullName;
        try
        {
            var path = Path.Combine(dir, "reference.json");
            File.WriteAllText(path, """
                {"runs": [
                  {"name": "rebased_L128_d64", "mixer": "rebased", "L": 128, "d_model": 64, "lr": 0.001, "seed": 42, "valid_accuracy_by_epoch": [0.1, 0.95]},
                  {"name": "rebased_L128_d64", "mixer": "rebased", "L": 128, "d_model": 64, "lr": 0.001, "seed": 43, "valid_accuracy_by_epoch": [0.2, 0.3, 0.97]},
                  {"name": "based_L128_d64", "mixer": "based", "L": 128, "d_model": 64, "lr": 0.001, "seed": 42, "valid_accuracy_by_epoch": [0.5]}
                ]}
                """);
            var reference = LearningCurves.ReadReference(path);
            var ours = new[] { Curve(0.2, 0.5, 0.93) with { Seed = 43 }, Curve(0.5, 0.91), Curve(0.1) with { LearningRate = 3e-3 } };
            var comparisons = LearningCurves.Compare(ours, reference);
            Assert.Equal(["rebased_L128_d64_seed43", "rebased_L128_d64", "rebased_L128_d64_lr0.003_seed42"], comparisons.Select(c => c.Name));
            Assert.Equal(3, comparisons[0].Reference!.ValidAccuracy.Count);
            Assert.Null(comparisons[2].Reference);

            var json = JsonNode.Parse(LearningCurves.Json(comparisons))!.AsArray();
            Assert.Equal(3, (int)json[0]!["reference_first_epoch_above_0.9"]!);
            Assert.Equal(3, (int)json[0]!["ours_first_epoch_above_0.9"]!);
            Assert.Equal(2, (int)json[1]!["ours_first_epoch_above_0.9"]!);
            Assert.True((bool)json[1]!["meets_target"]!);
            Assert.Null(json[2]!["reference_first_epoch_above_0.9"]);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void AResultsFileOfTheReferenceAnchorGivesOneCurvePerConfigThatRanAnEpoch()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, """
                {"settings": {"seed": 43},
                 "configs": [
                  {"name": "rebased_L256_d128", "mixer": "rebased", "L": 256, "d_model": 128, "lr": 0.001, "status": "reached",
                   "epochs": [{"epoch": 0, "valid_accuracy": 0.001}, {"epoch": 1, "valid_accuracy": 0.93}]},
                  {"name": "based_L256_d128", "mixer": "based", "L": 256, "d_model": 128, "lr": 0.001, "seed": 44, "status": "capped",
                   "epochs": [{"epoch": 0, "valid_accuracy": 0.002}]},
                  {"name": "conv_attention_L256_d128", "mixer": "conv_attention", "L": 256, "d_model": 128, "lr": 0.001, "status": "error", "epochs": []}
                ]}
                """);
            var curves = LearningCurves.ReadReference(path);
            Assert.Equal(2, curves.Count);
            Assert.Equal(("rebased_L256_d128", 43L, 2), (curves[0].Name, curves[0].Seed, curves[0].FirstEpochAbove(0.9)));
            Assert.Equal([0.001, 0.93], curves[0].ValidAccuracy);
            Assert.Equal(44L, curves[1].Seed);   // the config's own seed wins over the file's
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void AReferenceFileWithoutRunsIsAnErrorNamingIt()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "{\"about\": \"x\"}");
            var error = Assert.Throws<UserError>(() => LearningCurves.ReadReference(path));
            Assert.Contains(path, error.Message);
        }
        finally { File.Delete(path); }
    }
}
