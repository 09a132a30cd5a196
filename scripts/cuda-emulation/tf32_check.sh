#!/usr/bin/env bash
# Runs the working tree's 3xTF32 linear-attention kernels (CudaFused.cu, TF32X3 = 1) on the CPU in the emulator
# of cuda_emu.h against a float64 reference (tf32_check.cpp), over shapes that cover one and several query and key
# tiles, D not a multiple of 4, Dv split over blocks, both layouts and both kernels. Needs g++ with C++20.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed 's/extern __shared__ __align__(16) float smem\[\];/float* smem = g_smem;/' "$root/src/Rebased/Kernels/LinearAttention/CudaFused.cu" > "$work/la_tf32.cu"
failed=0
# KERNEL DP BV | B H T D Dv interleaved (DP = D padded to 16, BV = Dv rounded up to 8, at most 64, as CudaFused.cs picks)
while read -r kernel dp bv args; do
  g++ -std=c++20 -O1 -w -I"$here" -I"$work" -DKERNEL=$kernel -DDP=$dp -DBV=$bv -o "$work/check" "$here/tf32_check.cpp" -lpthread
  "$work/check" $args || failed=1
done <<'CASES'
0 16 16 1 3 130 16 10 1
1 16 24 2 2 70 16 21 0
0 16 64 1 2 65 12 100 0
1 16 24 1 2 129 16 24 1
0 32 32 1 1 64 32 32 0
1 16 16 1 2 1 16 10 1
0 16 16 1 1 70 10 10 0
1 16 8 1 2 70 16 5 1
CASES
exit $failed
