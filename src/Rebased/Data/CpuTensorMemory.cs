namespace Rebased.Data;

/// <summary>
/// Direct access to the memory of a contiguous CPU tensor, so rows can be filled in place (and from several
/// threads) without building managed arrays first. Valid while the tensor is alive.
/// </summary>
internal readonly unsafe struct CpuTensorMemory<T> where T : unmanaged
{
    private readonly T* _start;
    private readonly long _length;

    public CpuTensorMemory(T* start, long length)
    {
        _start = start;
        _length = length;
    }

    public Span<T> Row(long row, int width)
    {
        if (row < 0 || (row + 1) * width > _length) throw new ArgumentOutOfRangeException(nameof(row));
        return new Span<T>(_start + row * width, width);
    }
}

internal static class CpuTensorMemory
{
    public static unsafe CpuTensorMemory<T> Of<T>(Tensor tensor) where T : unmanaged
    {
        if (tensor.device_type != TorchSharp.DeviceType.CPU) throw new ArgumentException("tensor must be on the CPU");
        if (!tensor.is_contiguous()) throw new ArgumentException("tensor must be contiguous");
        if (tensor.element_size() != sizeof(T)) throw new ArgumentException($"tensor elements are {tensor.element_size()} bytes, not {sizeof(T)}");
        if (tensor.numel() == 0) return new CpuTensorMemory<T>(null, 0);
        var start = (T*)tensor.storage<T>().data_ptr() + tensor.storage_offset();
        return new CpuTensorMemory<T>(start, tensor.numel());
    }
}
