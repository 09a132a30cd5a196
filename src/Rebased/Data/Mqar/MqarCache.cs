using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;

namespace Rebased.Data.Mqar;

/// <summary>
/// Generated MQAR sets on disk, one file per (arguments, mode, generator version), in the layout of
/// <see cref="CacheFiles"/>: tokens, then the supervised masks.
/// Folder: the one given, else <c>$REBASED_CACHE/mqar</c>, else <c>~/.cache/rebased/mqar</c>.
/// </summary>
public static class MqarCache
{
    public const string CacheVariable = CacheFiles.CacheVariable;
    private static readonly byte[] Magic = "RBMQAR01"u8.ToArray();
    private const int RowsPerIoChunk = 4096;

    public static string DefaultDirectory => CacheFiles.DefaultDirectory("mqar");

    /// <summary>The identity of a set: every argument, the mode and the mode's generator version.</summary>
    public static string Key(MqarArgs args, MqarMode mode) => Key(args, mode, MqarGenerator.Version(mode));

    internal static string Key(MqarArgs args, MqarMode mode, string version) => string.Create(CultureInfo.InvariantCulture,
        $"mqar;version={version};mode={mode};vocab={args.VocabSize};examples={args.NumExamples};seq_len={args.SeqLen};" +
        $"kv_pairs={args.NumKvPairs};power_a={args.PowerA:R};random_non_queries={args.RandomNonQueries};seed={args.Seed}");

    public static string PathFor(MqarArgs args, MqarMode mode, string? cacheDir) => PathFor(Key(args, mode), cacheDir);

    internal static string PathFor(string key, string? cacheDir) => CacheFiles.PathFor(cacheDir ?? DefaultDirectory, "mqar", key);

    /// <summary>Loads the cached set for these arguments, or generates it and stores it.</summary>
    public static MqarDataset LoadOrGenerate(MqarArgs args, MqarMode mode, string? cacheDir)
    {
        args.Validate(mode);
        var path = PathFor(args, mode, cacheDir);
        if (TryLoad(path, args, mode) is { } cached) return cached;
        var data = MqarGenerator.Generate(args, mode);
        Save(data, path);
        return data;
    }

    /// <summary>The set stored at <paramref name="path"/> if it is complete and made for exactly these arguments, mode and version; otherwise null.</summary>
    public static MqarDataset? TryLoad(string path, MqarArgs args, MqarMode mode)
    {
        if (!File.Exists(path)) return null;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            var header = CacheFiles.ReadHeader(stream, Magic);
            if (header is null || header.Key != Key(args, mode)) return null;
            int words = MqarDataset.MaskWordsFor(args.SeqLen);
            long maskLength = (long)args.NumExamples * words;
            if (header.TokenBytes != TokenStore.ElementSizeFor(args.VocabSize)) return null;
            if (stream.Length != stream.Position + args.TokenCount * header.TokenBytes + maskLength * sizeof(ulong)) return null;
            var tokens = TokenStore.Create(args.VocabSize, args.TokenCount);
            var mask = new ulong[maskLength];
            for (int row = 0; row < args.NumExamples; row += RowsPerIoChunk)
            {
                int rows = Math.Min(RowsPerIoChunk, args.NumExamples - row);
                stream.ReadExactly(tokens.Bytes(row * args.SeqLen, rows * args.SeqLen));
            }
            stream.ReadExactly(MemoryMarshal.AsBytes(mask.AsSpan()));
            if (!EveryRowHasKSupervised(mask, words, args.NumKvPairs)) return null;
            return new MqarDataset(args, mode, tokens, mask);
        }
        catch (Exception e) when (CacheFiles.IsUnreadable(e))
        {
            return null;
        }
    }

    /// <summary>Writes a set to <paramref name="path"/> atomically (temporary file, then rename).</summary>
    public static void Save(MqarDataset data, string path) => Save(data, path, Key(data.Args, data.Mode));

    internal static void Save(MqarDataset data, string path, string key) => CacheFiles.WriteAtomically(path, "MQAR", stream =>
    {
        CacheFiles.WriteHeader(stream, Magic, new CacheFiles.Header(key, data.TokenBytes));
        for (int row = 0; row < data.Count; row += RowsPerIoChunk)
        {
            int rows = Math.Min(RowsPerIoChunk, data.Count - row);
            stream.Write(data.Tokens.Bytes(row * data.SeqLen, rows * data.SeqLen));
        }
        stream.Write(MemoryMarshal.AsBytes(data.SupervisedMask.AsSpan()));
    });

    private static bool EveryRowHasKSupervised(ulong[] mask, int wordsPerRow, int k)
    {
        for (long start = 0; start < mask.LongLength; start += wordsPerRow)
        {
            int count = 0;
            for (int w = 0; w < wordsPerRow; w++) count += BitOperations.PopCount(mask[start + w]);
            if (count != k) return false;
        }
        return true;
    }
}
