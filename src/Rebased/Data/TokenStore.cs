using System.Numerics;
using System.Runtime.InteropServices;

namespace Rebased.Data;

/// <summary>
/// Token ids of a set, row-major, in the narrowest unsigned type that holds the vocabulary:
/// byte (V ≤ 256), ushort (V ≤ 65,536), otherwise int.
/// </summary>
internal abstract class TokenStore
{
    public static TokenStore Create(int vocabSize, long count) => ElementSizeFor(vocabSize) switch
    {
        1 => new TokenStore<byte>(count),
        2 => new TokenStore<ushort>(count),
        _ => new TokenStore<int>(count),
    };

    public static int ElementSizeFor(int vocabSize) => vocabSize <= 1 << 8 ? 1 : vocabSize <= 1 << 16 ? 2 : 4;

    public abstract int ElementSize { get; }
    public abstract int Length { get; }
    public long ByteLength => (long)Length * ElementSize;

    /// <summary>The torch dtype that holds these tokens unchanged (ushort ids above 32,767 need int32).</summary>
    public ScalarType TorchType(int vocabSize) => ElementSize switch
    {
        1 => ScalarType.Byte,
        2 when vocabSize <= short.MaxValue + 1 => ScalarType.Int16,
        _ => ScalarType.Int32,
    };

    public abstract int this[int index] { get; set; }
    public abstract void Write(int offset, ReadOnlySpan<int> values);
    public abstract void Read<TOut>(int offset, Span<TOut> destination) where TOut : unmanaged, IBinaryInteger<TOut>;

    /// <summary>Raw little-endian bytes of <paramref name="count"/> tokens from <paramref name="offset"/> (for files).</summary>
    public abstract Span<byte> Bytes(int offset, int count);
}

internal sealed class TokenStore<T> : TokenStore where T : unmanaged, IBinaryInteger<T>
{
    private readonly T[] _data;

    public TokenStore(long count) => _data = new T[checked((int)count)];

    public override int ElementSize => System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
    public override int Length => _data.Length;

    public override int this[int index]
    {
        get => int.CreateTruncating(_data[index]);
        set => _data[index] = T.CreateTruncating(value);
    }

    public override void Write(int offset, ReadOnlySpan<int> values)
    {
        var target = _data.AsSpan(offset, values.Length);
        for (int i = 0; i < values.Length; i++) target[i] = T.CreateTruncating(values[i]);
    }

    public override void Read<TOut>(int offset, Span<TOut> destination)
    {
        var source = _data.AsSpan(offset, destination.Length);
        for (int i = 0; i < source.Length; i++) destination[i] = TOut.CreateTruncating(source[i]);
    }

    public override Span<byte> Bytes(int offset, int count) => MemoryMarshal.AsBytes(_data.AsSpan(offset, count));
}
