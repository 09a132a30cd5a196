#!/usr/bin/env bash
# On an `nvidia-h200-x2` host with the bundle unpacked at $R, from the repository root: device checks, then the
# training benchmark on cuda:0 while the Figure-1 slice runs on cuda:1, then sweep throughput and the rest of the
# Figure-1 slice on both GPUs. Logs and stores go to ${OUT:-.}; FIG1_STORE_IN resumes an earlier store.
set -u
R=${R:-/tmp/b/rebased/rebased}
out=${OUT:-.}
start=$(date +%s)
mkdir -p $out/unfused
if ! $R info --check-device > $out/check-device.log 2>&1; then
  tail -3 $out/check-device.log; echo "device check failed: the fused cross-entropy kernel is turned off for this session"
  export REBASED_FUSED_CROSS_ENTROPY=0
fi
grep "device check" $out/check-device.log
$R bench scans --device cuda --check 2>&1 | tee $out/scans-check.log | grep -E "selective scan +cuda|FAIL" | head -4
$R bench scans --device cuda --batch 256 --length 512 --channels 128 --repeats 5 2>&1 | tee $out/scans-time.log | tail -6

STAGES=fig1 FIG1_DEVICES=cuda:1 FIG1_SECONDS=${FIG1_FIRST_SECONDS:-240} OUT=$out bash scripts/gpu/training.sh > $out/fig1-first.log 2>&1 &
fig1=$!
STAGES=bench BENCH_PHASES=${BENCH_PHASES:-rebased} OUT=$out bash scripts/gpu/training.sh
echo "== the same rebased step without the fused cross-entropy kernel"
REBASED_FUSED_CROSS_ENTROPY=0 STAGES=bench BENCH_512=rebased BENCH_2048=" " OUT=$out/unfused bash scripts/gpu/training.sh 2>/dev/null | grep ms/step
wait $fig1
cat $out/fig1-first.log | tail -3
STAGES=throughput TP_DEVICES=cuda:0,cuda:1 TP_M="${TP_M:-4}" OUT=$out bash scripts/gpu/training.sh
left=$(( ${TOTAL_SECONDS:-560} - ($(date +%s) - start) ))
echo "== Figure-1 slice on both GPUs for ${left} s"
STAGES=fig1 FIG1_DEVICES=cuda:0,cuda:1 FIG1_SECONDS=$left OUT=$out bash scripts/gpu/training.sh
