#!/usr/bin/env bash
# Compares the CUDA kernels of the working tree with those of a git revision (default HEAD) on the CPU, in the
# emulator of cuda_emu.h: the selective scan (N = 4, 16, 32) and the fp32 linear attention (several D, Dv,
# both layouts). Prints relative differences; a kernel change that only reorders loads should print zeros.
# Needs g++ with C++20. Both versions must share the kernels' signatures and launch configurations.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
rev=${1:-HEAD}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
scan=src/Rebased/Kernels/Scan/ScanKernels.cu
la=src/Rebased/Kernels/LinearAttention/CudaFused.cu
dynamic='s/extern __shared__ __align__(16) float smem\[\];/float* smem = g_smem;/'
git -C "$root" show "$rev:$scan" > "$work/scan_before.cu"
cp "$root/$scan" "$work/scan_after.cu"
git -C "$root" show "$rev:$la" | sed "$dynamic" > "$work/la_before.cu"
sed "$dynamic" "$root/$la" > "$work/la_after.cu"
build() { g++ -std=c++20 -O1 -w -I"$here" -I"$work" "$@" -lpthread; }
for n in 4 16 32; do
  build -DNSTATE_TEST=$n -DNSTATE=$n -o "$work/scan$n" "$here/scan_compare.cpp"
  "$work/scan$n" 2 37 70
done
# DP BV | B H T D Dv interleaved (DP = D padded to 16, BV = 8/16/32/64 as CudaFused.cs picks for Dv)
while read -r dp bv args; do
  build -DKERNEL=0 -DDP=$dp -DBV=$bv -o "$work/la" "$here/linear_attention_compare.cpp"
  "$work/la" $args
done <<'CASES'
16 16 1 3 130 16 10 1
16 16 2 2 70 16 16 0
16 8 1 2 100 16 5 1
32 32 1 2 129 32 21 1
48 64 1 2 65 40 100 0
CASES
