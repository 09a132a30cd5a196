#!/usr/bin/env bash
# On a GPU host with the bundle unpacked at $R (default /tmp/b/rebased/rebased): correctness checks and
# timings of the fused linear-attention and scan kernels, and of the GLA and delta-rule forms. Logs go to ${OUT:-.}.
set -u
R=${R:-/tmp/b/rebased/rebased}
out=${OUT:-.}
for dt in bf16 fp16 fp32; do
  echo "== check fused $dt"; $R bench kernels --device cuda --dtype $dt --check --forms fused 2>&1 | tee $out/check-$dt.log | tail -4
done
echo "== scans check"; $R bench scans --device cuda --check 2>&1 | tee $out/scans-check.log | tail -6
echo "== scans timing (training shape)"; $R bench scans --device cuda --batch 256 --length 512 --channels 128 --repeats 5 2>&1 | tee $out/scans-time.log | tail -12
echo "== kernels timing bf16"; $R bench kernels --device cuda --dtype bf16 --forms fused,naive --seconds 0.5 --json $out/kernels-bf16.json 2>&1 | tee $out/kernels-bf16.log | tail -14
echo "== kernels timing fp32"; $R bench kernels --device cuda --dtype fp32 --forms fused,naive --seconds 0.5 --json $out/kernels-fp32.json 2>&1 | tee $out/kernels-fp32.log | tail -14
for family in gla delta; do
  for dt in fp64 fp32 bf16; do
    echo "== check $family $dt"; $R bench kernels --device cuda --family $family --dtype $dt --check 2>&1 | tee $out/check-$family-$dt.log | tail -2
  done
  echo "== $family timing fp32"; $R bench kernels --device cuda --family $family --dtype fp32 --seconds 0.5 --json $out/$family-fp32.json 2>&1 | tee $out/$family-fp32.log | tail -16
done
