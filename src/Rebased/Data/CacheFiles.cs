using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Rebased.Data;

/// <summary>
/// What every task's set cache shares: the folder (<c>$REBASED_CACHE/&lt;task&gt;</c>, else
/// <c>~/.cache/rebased/&lt;task&gt;</c>), file names hashed from the set's key, a header that repeats the key (so a
/// hash collision or a changed generator never serves stale data), and atomic writes (temporary file, then
/// rename, so a crashed run leaves no half file behind).
/// </summary>
public static class CacheFiles
{
    public const string CacheVariable = "REBASED_CACHE";
    private const int MaxHeaderBytes = 1 << 16;

    /// <summary>The default folder of one task's sets.</summary>
    public static string DefaultDirectory(string task) =>
        Environment.GetEnvironmentVariable(CacheVariable) is { Length: > 0 } root
            ? Path.Combine(root, task)
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "rebased", task);

    /// <summary>The file of the set with this key: <c>&lt;prefix&gt;-&lt;24 hex digits of SHA-256(key)&gt;.bin</c>.</summary>
    public static string PathFor(string directory, string prefix, string key)
    {
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
        return Path.Combine(directory, $"{prefix}-{hash[..24]}.bin");
    }

    /// <summary>The key and the bytes per token a cache file was written with.</summary>
    public sealed record Header(string Key, int TokenBytes);

    public static void WriteHeader(Stream stream, ReadOnlySpan<byte> magic, Header header)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(header);
        stream.Write(magic);
        Span<byte> length = stackalloc byte[4];
        BitConverter.TryWriteBytes(length, json.Length);
        stream.Write(length);
        stream.Write(json);
    }

    /// <summary>The header after <paramref name="magic"/>, or null when the file starts otherwise.</summary>
    public static Header? ReadHeader(Stream stream, ReadOnlySpan<byte> magic)
    {
        Span<byte> start = stackalloc byte[magic.Length];
        if (stream.ReadAtLeast(start, start.Length, throwOnEndOfStream: false) != start.Length || !start.SequenceEqual(magic)) return null;
        Span<byte> length = stackalloc byte[4];
        stream.ReadExactly(length);
        int size = BitConverter.ToInt32(length);
        if (size <= 0 || size > MaxHeaderBytes) return null;
        var json = new byte[size];
        stream.ReadExactly(json);
        return JsonSerializer.Deserialize<Header>(json);
    }

    /// <summary>Writes <paramref name="path"/> through a temporary file; <paramref name="what"/> names the cache in errors ("MQAR").</summary>
    public static void WriteAtomically(string path, string what, Action<Stream> write)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        try
        {
            Directory.CreateDirectory(directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserError($"{what} cache folder {directory} cannot be created ({e.Message})", e);
        }
        var temporary = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
                write(stream);
            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            File.Delete(temporary);
            throw new UserError($"{what} cache file {path} cannot be written ({e.Message})", e);
        }
    }

    /// <summary>Exceptions that mean "this file is not a usable set" rather than a bug.</summary>
    public static bool IsUnreadable(Exception e) => e is IOException or JsonException or EndOfStreamException or UnauthorizedAccessException;
}
