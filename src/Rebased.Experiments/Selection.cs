using System.Globalization;

namespace Rebased.Experiments;

/// <summary>The best accuracy of one finished run with the config values the figure groups by.</summary>
public sealed record RunResult(string Mixer, int DModel, int SeqLen, double LearningRate, long Seed, double BestAccuracy)
{
    /// <summary>Reads the grouping keys from a finished run's config (model.sequence_mixer.name, model.d_model,
    /// data.input_seq_len, learning_rate, seed).</summary>
    public static RunResult FromRecord(RunRecord run)
    {
        var config = run.Config;
        return new RunResult(
            Mixer: config.Get("model.sequence_mixer.name") as string ?? throw Missing(run, "model.sequence_mixer.name"),
            DModel: (int)Number(config, run, "model.d_model"),
            SeqLen: (int)Number(config, run, "data.input_seq_len"),
            LearningRate: Number(config, run, "learning_rate"),
            Seed: (long)Number(config, run, "seed"),
            BestAccuracy: run.BestAccuracy ?? throw Missing(run, "best accuracy"));
    }

    static double Number(ConfigTree config, RunRecord run, string key) => config.Get(key) switch
    {
        long l => l,
        double d => d,
        string s when double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
        _ => throw Missing(run, key),
    };

    static UserError Missing(RunRecord run, string key) => new($"run {run.ConfigHash} of sweep {run.Sweep} has no {key}");
}

/// <summary>One point of Figure 1: a mixer at a width and length, at its best learning rate.</summary>
public sealed record SelectedPoint(string Mixer, int SeqLen, int DModel, double LearningRate, double Mean, double Std, int Seeds,
    IReadOnlyList<(double LearningRate, double Mean, int Seeds)> AllLearningRates)
{
    /// <summary>Error bar below and above the mean, so that mean ± bar stays inside [0, 1].</summary>
    public double ErrorBelow => Mean - Math.Max(0, Mean - Std);
    public double ErrorAbove => Math.Min(1, Mean + Std) - Mean;
}

/// <summary>
/// The reference's selection rule for Figure 1 (its plotting notebook): only finished runs; each run's value is
/// its best validation accuracy; mean over seeds per (mixer, d_model, L, lr); per (mixer, d_model, L) the lr with
/// the highest mean (ties: the smallest lr); the error bar is the sample standard deviation over seeds at that
/// lr (0 with a single seed), clipped so that the bar stays inside [0, 1].
/// </summary>
public static class Selection
{
    public static IReadOnlyList<SelectedPoint> Select(IEnumerable<RunResult> results)
    {
        var points = new List<SelectedPoint>();
        foreach (var cell in results.GroupBy(r => (r.Mixer, r.SeqLen, r.DModel)))
        {
            var byLr = cell.GroupBy(r => r.LearningRate).OrderBy(g => g.Key)
                .Select(g => (LearningRate: g.Key, Values: g.Select(r => r.BestAccuracy).ToArray())).ToList();
            var best = byLr[0];
            foreach (var candidate in byLr.Skip(1))
                if (candidate.Values.Average() > best.Values.Average()) best = candidate;
            points.Add(new SelectedPoint(cell.Key.Mixer, cell.Key.SeqLen, cell.Key.DModel, best.LearningRate,
                best.Values.Average(), SampleStd(best.Values), best.Values.Length,
                byLr.Select(g => (g.LearningRate, g.Values.Average(), g.Values.Length)).ToList()));
        }
        return points.OrderBy(p => MixerOrder(p.Mixer)).ThenBy(p => p.Mixer, StringComparer.Ordinal)
            .ThenBy(p => p.SeqLen).ThenBy(p => p.DModel).ToList();
    }

    public static double SampleStd(IReadOnlyList<double> values)
    {
        if (values.Count < 2) return 0;
        var mean = values.Average();
        return Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1));
    }

    static readonly string[] PaperOrder =
        ["rebased", "based", "rwkv", "mamba", "conv_attention", "attention",
         "rebased_x2", "rebased_norm", "rebased_gamma", "rebased_gamma_beta"];

    public static int KnownMixerCount => PaperOrder.Length;

    /// <summary>Figure 1's legend order, then the ablation variants, then anything else.</summary>
    public static int MixerOrder(string mixer) => Array.IndexOf(PaperOrder, mixer) is var i and >= 0 ? i : PaperOrder.Length;

    /// <summary>Names as the paper prints them.</summary>
    public static string DisplayName(string mixer) => mixer switch
    {
        "rebased" => "ReBased",
        "based" => "Based",
        "rwkv" => "RWKV",
        "mamba" => "Mamba",
        "conv_attention" => "ConvAttention",
        "attention" => "Attention",
        "rebased_x2" => "x²",
        "rebased_norm" => "norm(x)²",
        "rebased_gamma" => "(γx)²",
        "rebased_gamma_beta" => "(γx+β)²",
        "gla" => "GLA",
        "deltanet" => "DeltaNet",
        _ => mixer,
    };
}
