using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Rebased.Data;

/// <summary>
/// Generated MQAR sets on disk, one file per (arguments, mode, generator version): the file name is a hash of
/// that key and the file repeats the key, so a changed generator version or a different argument never serves
/// stale data. Files are written to a temporary name and renamed, so a crashed run leaves no half file behind.
/// Folder: the one given, else <c>$REBASED_CACHE/mqar</c>, else <c>~/.cache/rebased/mqar</c>.
/// </summary>
public static class MqarCache
{
    public const string CacheVariable = "REBASED_CACHE";
    private static readonly byte[] Magic = "RBMQAR01"u8.ToArray();
    private const int RowsPerIoChunk = 4096;

    public static string DefaultDirectory =>
        Environment.GetEnvironmentVariable(CacheVariable) is { Length: > 0 } root
            ? Path.Combine(root, "mqar")
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "rebased", "mqar");

    /// <summary>The identity of a set: every argument, the mode and the mode's generator version.</summary>
    public static string Key(MqarArgs args, MqarMode mode) => Key(args, mode, MqarGenerator.Version(mode));

    internal static string Key(MqarArgs args, MqarMode mode, string version) => string.Create(CultureInfo.InvariantCulture,
        $"mqar;version={version};mode={mode};vocab={args.VocabSize};examples={args.NumExamples};seq_len={args.SeqLen};" +
        $"kv_pairs={args.NumKvPairs};power_a={args.PowerA:R};random_non_queries={args.RandomNonQueries};seed={args.Seed}");

    public static string PathFor(MqarArgs args, MqarMode mode, string? cacheDir) => PathFor(Key(args, mode), cacheDir);

    internal static string PathFor(string key, string? cacheDir)
    {
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
        return Path.Combine(cacheDir ?? DefaultDirectory, $"mqar-{hash[..24]}.bin");
    }

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
            var header = ReadHeader(stream);
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
        catch (Exception e) when (e is IOException or JsonException or EndOfStreamException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Writes a set to <paramref name="path"/> atomically (temporary file, then rename).</summary>
    public static void Save(MqarDataset data, string path) => Save(data, path, Key(data.Args, data.Mode));

    internal static void Save(MqarDataset data, string path, string key)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        try
        {
            Directory.CreateDirectory(directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserError($"MQAR cache folder {directory} cannot be created ({e.Message})", e);
        }
        var temporary = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                var header = JsonSerializer.SerializeToUtf8Bytes(new Header(key, data.TokenBytes));
                stream.Write(Magic);
                Span<byte> length = stackalloc byte[4];
                BitConverter.TryWriteBytes(length, header.Length);
                stream.Write(length);
                stream.Write(header);
                for (int row = 0; row < data.Count; row += RowsPerIoChunk)
                {
                    int rows = Math.Min(RowsPerIoChunk, data.Count - row);
                    stream.Write(data.Tokens.Bytes(row * data.SeqLen, rows * data.SeqLen));
                }
                stream.Write(MemoryMarshal.AsBytes(data.SupervisedMask.AsSpan()));
            }
            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            File.Delete(temporary);
            throw new UserError($"MQAR cache file {path} cannot be written ({e.Message})", e);
        }
    }

    private sealed record Header(string Key, int TokenBytes);

    private static Header? ReadHeader(Stream stream)
    {
        Span<byte> magic = stackalloc byte[8];
        if (stream.ReadAtLeast(magic, magic.Length, throwOnEndOfStream: false) != magic.Length || !magic.SequenceEqual(Magic)) return null;
        Span<byte> length = stackalloc byte[4];
        stream.ReadExactly(length);
        int size = BitConverter.ToInt32(length);
        if (size <= 0 || size > 1 << 16) return null;
        var json = new byte[size];
        stream.ReadExactly(json);
        return JsonSerializer.Deserialize<Header>(json);
    }

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
