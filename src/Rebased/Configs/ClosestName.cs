namespace Rebased.Configs;

/// <summary>The known name a mistyped one most likely meant (--dryrun for --dry-run, model.d_modle for model.d_model).</summary>
public static class ClosestName
{
    /// <summary>The closest candidate, or null when even the closest is a different name rather than a typo.</summary>
    public static string? Find(string typed, IEnumerable<string> candidates)
    {
        var best = candidates.MinBy(c => Distance(typed, c));
        // More than a third of the name changed is a different name, not a typo, unless one name extends the other (--outdir, --out).
        bool close = best is not null && (Distance(typed, best) <= Math.Max(2, typed.Length / 3)
            || typed.StartsWith(best, StringComparison.Ordinal) || best.StartsWith(typed, StringComparison.Ordinal));
        return close ? best : null;
    }

    /// <summary>Levenshtein distance: the fewest insertions, deletions and substitutions that turn a into b.</summary>
    public static int Distance(string a, string b)
    {
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        var current = new int[b.Length + 1];
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1], previous[j]) + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }
}
