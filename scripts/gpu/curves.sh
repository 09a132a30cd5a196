#!/usr/bin/env bash
# On a GPU host with the bundle unpacked at $R (default /tmp/b/rebased/rebased), from the repository root: our trainer
# on the six configs of the reference's learning curves (shared/reference_curves/mqar_tta_h200.json) plus training
# seeds 43 and 44 of rebased_L128_d64, all concurrently on cuda:0, each under a wall-clock cap of ${CAP_S:-420} s
# (metrics.jsonl is written after every epoch, so a capped run keeps its curve). With REFERENCE_SEEDS (e.g.
# "42 43 44") and the anchors at $ANCHORS, the reference trainer runs rebased_L128_d64 for those seeds beside ours.
# Output in ${OUT:-.}: curves.log, runs.tar (each run's metrics.jsonl and summary.json), reference/<seed>/.
set -u
R=${R:-/tmp/b/rebased/rebased}
out=${OUT:-.}
runs=${RUNS_DIR:-/tmp/curves}
mkdir -p "$runs"
base=(--config configs/config_mqar.yaml --device cuda:0 --set data.batch_size=512 --set seed=42)
ours() {  # name mixer L d_model lr [extra --set ...]
  local name=$1 mixer=$2 L=$3 d=$4 lr=$5; shift 5
  timeout -s INT -k 60 "${CAP_S:-420}" $R train "${base[@]}" --run-dir "$runs/$name" --set model.sequence_mixer.name=$mixer \
    --set data.input_seq_len=$L --set model.d_model=$d --set learning_rate=$lr "$@" > "$runs/$name.log" 2>&1
  echo "$name: exit $? after $(wc -l < "$runs/$name/metrics.jsonl" 2>/dev/null || echo 0) epochs" | tee -a "$out/curves.log"
}
ours rebased_L128_d64 rebased 128 64 1e-3 &
ours rebased_L128_d64_seed43 rebased 128 64 1e-3 --set seed=43 &
ours rebased_L128_d64_seed44 rebased 128 64 1e-3 --set seed=44 &
ours based_L128_d64 based 128 64 1e-3 &
ours rebased_L256_d128 rebased 256 128 1e-3 &
ours based_L256_d128 based 256 128 1e-3 &
ours conv_attention_L256_d128 conv_attention 256 128 1e-3 &
ours rebased_L512_d64 rebased 512 64 3e-3 &
if [[ -n "${REFERENCE_SEEDS:-}" ]]; then
  for s in $REFERENCE_SEEDS; do
    mkdir -p "$out/reference/$s"
    (cd "${ANCHORS:-.anchors}" && TTA_SEED=$s OUT="$out/reference/$s" timeout -k 20 "${REFERENCE_CAP_S:-150}" \
      python3 anchors/reference_tta/run_tta.py --only 0 --budget 140 --cap 110 > "$out/reference/$s/stdout.log" 2>&1)
    echo "reference seed $s: exit $?" | tee -a "$out/curves.log"
  done
fi
wait
tar -C "$runs" -cf "$out/runs.tar" $(cd "$runs" && ls -d */config.yaml */metrics.jsonl */summary.json *.log 2>/dev/null)
