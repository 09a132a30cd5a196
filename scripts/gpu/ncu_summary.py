#!/usr/bin/env python3
"""Per-kernel time of one training step from the CSV that scripts/gpu/profile.sh writes (ncu --print-summary
per-kernel, gpu__time_duration.sum). The profile covers two steps (one warm-up, one timed): times are halved."""
import csv, re, sys

STEPS = 2
for path in sys.argv[1:]:
    rows = list(csv.reader(line for line in open(path) if line.startswith('"')))
    header, rows = rows[0], rows[1:]
    col = {h: i for i, h in enumerate(header)}
    kernels = {}
    for r in rows:
        name = re.sub(r'\(.*', '', r[col['Kernel Name']])[:90]
        calls, mean_ns = int(r[col['Invocations']]), float(r[col['Average']].replace(',', ''))
        key = (name, r[col['Grid Size']])
        c, t = kernels.get(key, (0, 0.0))
        kernels[key] = (c + calls, t + calls * mean_ns)
    total = sum(t for _, t in kernels.values())
    launches = sum(c for c, _ in kernels.values())
    print(f"{path}: {total / 1e6 / STEPS:.2f} ms of GPU time per step, {launches // STEPS} kernel launches per step")
    for (name, grid), (calls, t) in sorted(kernels.items(), key=lambda kv: -kv[1][1])[:22]:
        print(f"{t / 1e6 / STEPS:7.2f} ms  {calls // STEPS:4d}x  {name[:80]} grid {grid}")
