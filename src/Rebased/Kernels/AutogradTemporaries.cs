using System.Collections.Concurrent;

namespace Rebased.Kernels;

/// <summary>
/// Frees what the backward of a custom autograd function creates, without waiting for the garbage collector.
/// libtorch calls such a backward on its autograd thread (on CUDA, the device's own thread), where the caller's
/// dispose scope does not reach; the incoming gradient, the unpacked saved tensors and the returned gradients are
/// then wrappers that keep device memory alive until their finalizers run. <see cref="Backward"/> runs the body in
/// its own scope and hands the returned gradients to the innermost <see cref="Collect"/> scope, which disposes them
/// once the caller's <c>backward()</c> has returned (libtorch holds its own references by then).
/// </summary>
public static class AutogradTemporaries
{
    private static readonly ConcurrentQueue<Tensor> Returned = new();
    private static int _collectors;

    /// <summary>A scope around <c>backward()</c> calls: the gradients returned by custom functions inside it are disposed when the last open scope closes.</summary>
    public static IDisposable Collect()
    {
        Interlocked.Increment(ref _collectors);
        return new Collector();
    }

    /// <summary>
    /// Runs a custom function's backward: <paramref name="body"/> gets the saved tensors; everything it creates
    /// except the returned gradients is disposed on return, as are the saved tensors' and the incoming gradient's wrappers.
    /// </summary>
    public static List<Tensor> Backward(autograd.AutogradContext ctx, Tensor gradOutput, Func<List<Tensor>, List<Tensor>> body)
    {
        List<Tensor> grads;
        using (var scope = NewDisposeScope())
        {
            grads = body(ctx.get_saved_variables());
            foreach (var g in grads)
                if (g is not null) scope.Detach(g);
        }
        if (!grads.Any(g => ReferenceEquals(g, gradOutput))) gradOutput.Dispose();
        if (Volatile.Read(ref _collectors) > 0)
            foreach (var g in grads)
                if (g is not null) Returned.Enqueue(g);
        return grads;
    }

    private sealed class Collector : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
            if (Interlocked.Decrement(ref _collectors) > 0) return;
            while (Returned.TryDequeue(out var t)) t.Dispose();
        }
    }
}
