#!/usr/bin/env bash
# On a GPU host with the bundle unpacked at $R (default /tmp/b/rebased/rebased): correctness checks and
# timings of the fused linear-attention kernels (fp32 on the CUDA cores and in 3xTF32 on tensor cores, side by
# side, also at the MQAR training shapes, where bf16 is timed per run and as 20 queued runs to separate host
# latency from device time), the scan kernels, and the GLA and delta-rule forms. Logs go to ${OUT:-.}.
# STAGES (default check,linear,shapes,scans,families) picks the parts; check,linear,shapes take about 3 minutes.
set -u
R=${R:-/tmp/b/rebased/rebased}
out=${OUT:-.}
stages=${STAGES:-check,linear,shapes,scans,families}
if [[ $stages == *check* ]]; then
  for dt in bf16 fp16; do
    echo "== check fused $dt"; $R bench kernels --device cuda --dtype $dt --check --forms fused 2>&1 | tee $out/check-$dt.log | tail -4
  done
  echo "== check fused, fused_tf32x3 fp32"; $R bench kernels --device cuda --dtype fp32 --check --forms fused,fused_tf32x3 2>&1 | tee $out/check-fp32.log | tail -4
fi
if [[ $stages == *linear* ]]; then
  echo "== kernels timing bf16"; $R bench kernels --device cuda --dtype bf16 --forms fused,naive --seconds 0.5 --json $out/kernels-bf16.json 2>&1 | tee $out/kernels-bf16.log | tail -14
  echo "== kernels timing fp32"; $R bench kernels --device cuda --dtype fp32 --forms fused,fused_tf32x3,naive --seconds 0.5 --json $out/kernels-fp32.json 2>&1 | tee $out/kernels-fp32.log | tail -14
fi
if [[ $stages == *shapes* ]]; then
  for shape in 256,12,512,16,10 64,12,2048,16,21 8,16,2048,16,64 8,16,8192,16,64; do
    echo "== fp32 shape $shape"; $R bench kernels --device cuda --dtype fp32 --forms fused,fused_tf32x3 --shape $shape --seconds 0.5 2>&1 | tee -a $out/kernels-fp32-shapes.log | tail -4
    for n in 1 20; do
      echo "== bf16 shape $shape, back-to-back $n"
      $R bench kernels --device cuda --dtype bf16 --forms fused --shape $shape --seconds 0.5 --back-to-back $n 2>&1 | tee -a $out/kernels-bf16-shapes.log | tail -3
    done
  done
fi
if [[ $stages == *scans* ]]; then
  echo "== scans check"; $R bench scans --device cuda --check 2>&1 | tee $out/scans-check.log | tail -6
  echo "== scans timing (training shape)"; $R bench scans --device cuda --batch 256 --length 512 --channels 128 --repeats 5 2>&1 | tee $out/scans-time.log | tail -12
fi
if [[ $stages == *families* ]]; then
  for family in gla delta; do
    for dt in fp64 fp32 bf16; do
      echo "== check $family $dt"; $R bench kernels --device cuda --family $family --dtype $dt --check 2>&1 | tee $out/check-$family-$dt.log | tail -2
    done
    echo "== $family timing fp32"; $R bench kernels --device cuda --family $family --dtype fp32 --seconds 0.5 --json $out/$family-fp32.json 2>&1 | tee $out/$family-fp32.log | tail -16
  done
fi
