#!/usr/bin/env bash
# On a GPU host with the bundle unpacked at $R (default /tmp/b/rebased/rebased): Nsight Compute's per-kernel time
# summary of one training step (after one warm-up step) of the configurations in $PROFILES, written as CSV to
# ${OUT:-.}/ncu-NAME.csv. `gpu__time_duration.sum` only, with the clocks left alone.
set -u
R=${R:-/tmp/b/rebased/rebased}
out=${OUT:-.}
profile() {
  local name=$1; shift
  timeout 200 ncu --clock-control none --metrics gpu__time_duration.sum --print-summary per-kernel --csv \
    $R bench train --device cuda --steps 1 --warmup 1 "$@" > $out/ncu-$name.csv 2> $out/ncu-$name.err
  echo "$name: exit $?, $(wc -l < $out/ncu-$name.csv) lines"
}
for p in ${PROFILES:-rebased512 mamba512 rebased128}; do
  case $p in
    rebased512) profile $p --mixer rebased --seq-len 512 --kv-pairs 128 --d-model 128 ;;
    mamba512) profile $p --mixer mamba --seq-len 512 --kv-pairs 128 --d-model 128 ;;
    rebased128) profile $p --mixer rebased --seq-len 128 --kv-pairs 16 --d-model 64 ;;
  esac
done
