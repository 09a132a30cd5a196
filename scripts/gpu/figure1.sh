#!/usr/bin/env bash
# On a GPU host with the bundle unpacked at $R (default /tmp/b/rebased/rebased), from the repository root: continues
# the Figure-1 grid (configs/figure1.yaml) from the runs already in docs/results/figure1/runs.jsonl, for
# ${FIG1_SECONDS:-480} s on ${FIG1_DEVICES:-cuda:0} with ${FIG1_M:-8} runs per GPU, then stops the sweep with SIGINT (its
# trainers checkpoint) and writes ${OUT:-.}/runs.jsonl: the committed runs plus the ones finished here. Copy that file
# over docs/results/figure1/runs.jsonl and commit it. A next call that reaches the same machine still warm, with its
# /tmp kept, finds the store and the checkpoints there and resumes the stopped runs where they were.
set -u
R=${R:-/tmp/b/rebased/rebased}
out=${OUT:-.}
runs=docs/results/figure1/runs.jsonl
store=${FIG1_STORE:-/tmp/figure1.db}
command -v nvidia-smi >/dev/null && { nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv -l 15 \
  >>"$out/gpu-utilization.csv" 2>/dev/null & smi=$!; }
[[ -f $runs ]] && $R sweep import "$runs" --store "$store" 2>&1 | tee -a "$out/figure1.log"
timeout -s INT -k 90 "${FIG1_SECONDS:-480}" $R sweep configs/figure1.yaml --devices "${FIG1_DEVICES:-cuda:0}" \
  --runs-per-device "${FIG1_M:-8}" --store "$store" --runs-dir /tmp/figure1 2>&1 | tail -5 | tee -a "$out/figure1.log"
[[ -f $runs ]] && cp "$runs" "$out/runs.jsonl"
$R sweep export "$out/runs.jsonl" --store "$store" --sweep figure1 2>&1 | tee -a "$out/figure1.log"
$R sweep status --store "$store" 2>&1 | head -8 | tee -a "$out/figure1.log"
cp "$store" "$out/figure1.db"
[[ -n ${smi:-} ]] && kill "$smi" 2>/dev/null; true
