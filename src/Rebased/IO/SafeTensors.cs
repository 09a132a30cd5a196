using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Rebased.IO;

/// <summary>
/// The safetensors format (an 8-byte little-endian header length, a JSON header, then the raw
/// little-endian tensor bytes), read into and written from TorchSharp CPU tensors.
/// </summary>
public static class SafeTensors
{
    private static readonly (string Name, ScalarType Type, int Size)[] DTypes =
    {
        ("F64", ScalarType.Float64, 8), ("F32", ScalarType.Float32, 4), ("F16", ScalarType.Float16, 2),
        ("BF16", ScalarType.BFloat16, 2), ("I64", ScalarType.Int64, 8), ("I32", ScalarType.Int32, 4),
        ("I16", ScalarType.Int16, 2), ("I8", ScalarType.Int8, 1), ("U8", ScalarType.Byte, 1), ("BOOL", ScalarType.Bool, 1),
    };

    /// <summary>Reads every tensor of a file (CPU tensors, in file order).</summary>
    public static Dictionary<string, Tensor> Load(string path)
    {
        if (!File.Exists(path)) throw new UserError($"{path}: file not found");
        return Read(File.ReadAllBytes(path), path);
    }

    /// <summary>The metadata block (`__metadata__`) of a file, or an empty dictionary.</summary>
    public static Dictionary<string, string> LoadMetadata(string path)
    {
        var (header, _) = ParseHeader(File.ReadAllBytes(path), path);
        var result = new Dictionary<string, string>();
        if (header["__metadata__"] is JsonObject meta)
            foreach (var (k, v) in meta) result[k] = v?.GetValue<string>() ?? "";
        return result;
    }

    public static Dictionary<string, Tensor> Read(byte[] bytes, string source)
    {
        var (header, dataStart) = ParseHeader(bytes, source);
        var result = new Dictionary<string, Tensor>();
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__") continue;
            try
            {
                var dtypeName = node!["dtype"]!.GetValue<string>();
                var entry = Array.Find(DTypes, d => d.Name == dtypeName);
                if (entry.Name is null) throw new UserError($"{source}: tensor '{name}' has unsupported dtype {dtypeName}");
                var shape = node["shape"]!.AsArray().Select(x => x!.GetValue<long>()).ToArray();
                var offsets = node["data_offsets"]!.AsArray().Select(x => x!.GetValue<long>()).ToArray();
                long count = shape.Aggregate(1L, (a, b) => a * b);
                long begin = dataStart + offsets[0], end = dataStart + offsets[1];
                if (end - begin != count * entry.Size || end > bytes.Length || begin < dataStart)
                    throw new UserError($"{source}: tensor '{name}' has data offsets that do not match its shape and dtype (file truncated or corrupt)");
                var tensor = empty(shape, entry.Type);
                if (count > 0) bytes.AsSpan((int)begin, (int)(end - begin)).CopyTo(tensor.bytes);
                result[name] = tensor;
            }
            catch (Exception e) when (e is NullReferenceException or InvalidOperationException or FormatException)
            {
                throw new UserError($"{source}: malformed header entry for tensor '{name}'", e);
            }
        }
        return result;
    }

    /// <summary>Writes tensors (any device; copied to CPU, made contiguous) with optional string metadata.</summary>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var items = tensors.Select(kv => (kv.Key, Tensor: kv.Value.detach().cpu().contiguous())).ToList();
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
        {
            var meta = new JsonObject();
            foreach (var (k, v) in metadata) meta[k] = v;
            header["__metadata__"] = meta;
        }
        long offset = 0;
        foreach (var (name, t) in items)
        {
            var entry = Array.Find(DTypes, d => d.Type == t.dtype);
            if (entry.Name is null) throw new ArgumentException($"tensor '{name}': dtype {t.dtype} cannot be stored in safetensors here");
            long size = t.numel() * entry.Size;
            header[name] = new JsonObject
            {
                ["dtype"] = entry.Name,
                ["shape"] = new JsonArray(t.shape.Select(s => (JsonNode)s).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + size),
            };
            offset += size;
        }
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padding = (8 - json.Length % 8) % 8;
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        var temp = path + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write))
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)(json.Length + padding));
            stream.Write(length);
            stream.Write(json);
            for (int i = 0; i < padding; i++) stream.WriteByte((byte)' ');
            foreach (var (_, t) in items)
                if (t.numel() > 0) stream.Write(t.bytes);
            stream.Flush(true);
        }
        File.Move(temp, path, overwrite: true);
        foreach (var (_, t) in items) t.Dispose();
    }

    private static (JsonObject Header, long DataStart) ParseHeader(byte[] bytes, string source)
    {
        if (bytes.Length < 8) throw new UserError($"{source}: not a safetensors file (shorter than its 8-byte header length)");
        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (length > (ulong)(bytes.Length - 8)) throw new UserError($"{source}: not a safetensors file (header length {length} exceeds the file)");
        try
        {
            var header = JsonNode.Parse(bytes.AsSpan(8, (int)length)) as JsonObject
                ?? throw new UserError($"{source}: safetensors header is not a JSON object");
            return (header, 8 + (long)length);
        }
        catch (JsonException e)
        {
            throw new UserError($"{source}: safetensors header is not valid JSON ({e.Message})", e);
        }
    }
}
