#!/usr/bin/env python3
# Time of the head's three fp32 GEMMs (no TF32) in the operand layouts cuBLAS could be given, with the
# PyTorch of a GPU host (the same cuBLAS as the libtorch the bundle runs on): python3 scripts/gpu/gemm_layouts.py
import torch, time
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
def bench(name, f, flop):
    for _ in range(3): f()
    torch.cuda.synchronize()
    n = 20
    s = torch.cuda.Event(enable_timing=True); e = torch.cuda.Event(enable_timing=True)
    s.record()
    for _ in range(n): f()
    e.record(); torch.cuda.synchronize()
    ms = s.elapsed_time(e) / n
    print(f"{name:40s} {ms:7.3f} ms {flop / ms / 1e9:6.1f} TFLOP/s")
for rows, d in ((32768, 128), (32768, 256)):
    V = 8192
    h = torch.randn(rows, d, device='cuda'); w = torch.randn(V, d, device='cuda'); wt = w.t().contiguous()
    dz = torch.randn(rows, V, device='cuda'); dW = torch.zeros(V, d, device='cuda'); dWt = torch.zeros(d, V, device='cuda')
    f = 2 * rows * V * d
    print(f"rows {rows} d {d} V {V}")
    bench("logits h @ w.t()", lambda: h @ w.t(), f)
    bench("logits h @ wt (wt contiguous)", lambda: h @ wt, f)
    bench("logits (w @ h.t()).t()", lambda: (w @ h.t()), f)
    bench("dh dz @ w", lambda: dz @ w, f)
    bench("dh dz @ wt.t()", lambda: dz @ wt.t(), f)
    bench("dW addmm_(dz.t(), h)", lambda: dW.addmm_(dz.t(), h), f)
    bench("dWt addmm_(h.t(), dz)", lambda: dWt.addmm_(h.t(), dz), f)
