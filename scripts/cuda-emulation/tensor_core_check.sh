#!/usr/bin/env bash
# Runs the working tree's tensor-core linear-attention kernels (CudaFused.cu: 3xTF32 for fp32, mma.sync for bf16
# and fp16) on the CPU in the emulator of cuda_emu.h against a float64 reference (tensor_core_check.cpp), over shapes
# that cover one and several query and key tiles, D not a multiple of 4, Dv split over blocks, both layouts and
# both kernels. Needs g++ with C++20.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed 's/extern __shared__ __align__(16) float smem\[\];/float* smem = g_smem;/' "$root/src/Rebased/Kernels/LinearAttention/CudaFused.cu" > "$work/la.cu"
failed=0
# dtype KERNEL DP BV | B H T D Dv interleaved (DP = D padded to 16; BV as CudaFused.cs picks: Dv rounded up to 8
# for tf32x3, to 16 for bf16 and fp16, at most 64)
while read -r dtype kernel dp bv args; do
  case $dtype in tf32x3) kind="-DELEM_KIND=0 -DTF32X3=1" ;; bf16) kind="-DELEM_KIND=1" ;; fp16) kind="-DELEM_KIND=2" ;; esac
  g++ -std=c++20 -O1 -w -I"$here" -I"$work" $kind -DKERNEL=$kernel -DDP=$dp -DBV=$bv -o "$work/check" "$here/tensor_core_check.cpp" -lpthread
  "$work/check" $args || failed=1
done <<'CASES'
tf32x3 0 16 16 1 3 130 16 10 1
tf32x3 1 16 24 2 2 70 16 21 0
tf32x3 0 16 64 1 2 65 12 100 0
tf32x3 1 16 24 1 2 129 16 24 1
tf32x3 0 32 32 1 1 64 32 32 0
tf32x3 1 16 16 1 2 1 16 10 1
tf32x3 0 16 16 1 1 70 10 10 0
tf32x3 1 16 8 1 2 70 16 5 1
bf16 0 16 16 1 3 130 16 10 1
bf16 1 16 32 2 1 70 16 21 0
bf16 0 16 64 1 2 65 12 100 0
bf16 1 16 16 1 2 300 16 10 1
fp16 1 16 16 1 2 129 16 16 1
fp16 0 32 32 1 1 64 32 24 0
CASES
exit $failed
