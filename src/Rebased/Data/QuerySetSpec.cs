using System.Runtime.InteropServices;

namespace Rebased.Data;

/// <summary>
/// One <see cref="QuerySet"/>'s validated arguments, as a task hands them to the seam: its generator, and its cache
/// in the layout of <see cref="CacheFiles"/> (tokens, then every row's positions, then their targets, int32),
/// under <c>$REBASED_CACHE/&lt;task&gt;</c>.
/// </summary>
public sealed class QuerySetSpec(string task, string cacheKey, int vocabSize, int numExamples, int seqLen, int queriesPerRow,
    string shape, IReadOnlyDictionary<string, string> metadata, Func<QuerySet> generate) : ITaskSetSpec
{
    private static readonly byte[] Magic = "RBQSET01"u8.ToArray();

    public string Generator => nameof(DataMode.NumpyCompatible);
    public string Shape => shape;
    public IReadOnlyDictionary<string, string> Metadata => metadata;

    public ITaskSet Generate() => generate();

    public ITaskSet LoadOrGenerate(string? cacheDir, bool refresh)
    {
        var path = PathFor(cacheDir);
        if (!refresh && TryLoad(path) is { } cached) return cached;
        var data = generate();
        Save(data, path);
        return data;
    }

    public string PathFor(string? cacheDir) => CacheFiles.PathFor(cacheDir ?? CacheFiles.DefaultDirectory(task), task, cacheKey);

    /// <summary>The set stored at <paramref name="path"/> if it is complete and made for exactly this key; otherwise null.</summary>
    public QuerySet? TryLoad(string path)
    {
        if (!File.Exists(path)) return null;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            var header = CacheFiles.ReadHeader(stream, Magic);
            long tokenCount = (long)numExamples * seqLen, queryCount = (long)numExamples * queriesPerRow;
            if (header is null || header.Key != cacheKey || header.TokenBytes != TokenStore.ElementSizeFor(vocabSize)) return null;
            if (stream.Length != stream.Position + tokenCount * header.TokenBytes + 2 * queryCount * sizeof(int)) return null;
            var tokens = TokenStore.Create(vocabSize, tokenCount);
            var positions = new int[queryCount];
            var targets = new int[queryCount];
            stream.ReadExactly(tokens.Bytes(0, (int)tokenCount));
            stream.ReadExactly(MemoryMarshal.AsBytes(positions.AsSpan()));
            stream.ReadExactly(MemoryMarshal.AsBytes(targets.AsSpan()));
            if (targets.Any(t => (uint)t >= (uint)vocabSize)) return null;
            return new QuerySet(vocabSize, seqLen, queriesPerRow, tokens, positions, targets);
        }
        catch (Exception e) when (CacheFiles.IsUnreadable(e) || e is ArgumentException)
        {
            return null;
        }
    }

    private void Save(QuerySet data, string path) => CacheFiles.WriteAtomically(path, task, stream =>
    {
        CacheFiles.WriteHeader(stream, Magic, new CacheFiles.Header(cacheKey, data.Tokens.ElementSize));
        stream.Write(data.Tokens.Bytes(0, data.Tokens.Length));
        stream.Write(MemoryMarshal.AsBytes(data.AllPositions.AsSpan()));
        stream.Write(MemoryMarshal.AsBytes(data.AllTargets.AsSpan()));
    });
}
