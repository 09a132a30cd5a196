#!/usr/bin/env bash
# On a GPU host with the bundle unpacked at $R (default /tmp/b/rebased/rebased), from the repository root: our trainer
# on the configs of the reference's learning curves (shared/reference_curves/mqar_tta_h200.json), all concurrently on
# cuda:0, each under a wall-clock cap of ${CAP_S:-420} s (metrics.jsonl is written after every epoch, so a capped run
# keeps its curve).
#   CONFIGS  names to run (default: all six)     SEEDS  training seeds (default 42; seed s != 42 runs as NAME_seedS)
#   REFERENCE_SEEDS  with the anchors at $ANCHORS, the reference trainer runs the same configs for these seeds, in
#                    parallel with ours (each with its own data cache and work folder: shared ones race), each capped at
#                    ${REFERENCE_CAP_S:-150} s
# Output in ${OUT:-.}: curves.log, runs.tar (each run's config.yaml, metrics.jsonl, summary.json and log) and
# reference.tar (reference/<seed>/<config>/results_tta.json and logs).
set -u
R=${R:-/tmp/b/rebased/rebased}
out=${OUT:-.}
runs=${RUNS_DIR:-/tmp/curves}
mkdir -p "$runs"
declare -A spec=(  # name -> "mixer L d_model lr reference-index"
  [rebased_L128_d64]="rebased 128 64 1e-3 0"
  [based_L128_d64]="based 128 64 1e-3 1"
  [rebased_L256_d128]="rebased 256 128 1e-3 2"
  [based_L256_d128]="based 256 128 1e-3 3"
  [conv_attention_L256_d128]="conv_attention 256 128 1e-3 4"
  [rebased_L512_d64]="rebased 512 64 3e-3 5"
)
configs=${CONFIGS:-rebased_L128_d64 based_L128_d64 rebased_L256_d128 based_L256_d128 conv_attention_L256_d128 rebased_L512_d64}
base=(--config configs/config_mqar.yaml --device cuda:0 --set data.batch_size=512)
ours() {  # run-name config-name seed
  local run=$1 seed=$3 mixer L d lr _; read -r mixer L d lr _ <<< "${spec[$2]}"
  timeout -s TERM -k 60 "${CAP_S:-420}" $R train "${base[@]}" --run-dir "$runs/$run" --set seed="$seed" \
    --set model.sequence_mixer.name="$mixer" --set data.input_seq_len="$L" --set model.d_model="$d" \
    --set learning_rate="$lr" > "$runs/$run.log" 2>&1
  echo "$run: exit $? after $(wc -l < "$runs/$run/metrics.jsonl" 2>/dev/null || echo 0) epochs" | tee -a "$out/curves.log"
}
reference() {  # config-name seed
  local name=$1 seed=$2 dir="$out/reference/$2/$1" index; read -r _ _ _ _ index <<< "${spec[$1]}"
  mkdir -p "$dir"
  (cd "${ANCHORS:-.anchors}" && TTA_SEED=$seed OUT="$dir" timeout -k 20 "${REFERENCE_CAP_S:-150}" python3 \
    anchors/reference_tta/run_tta.py --only "$index" --budget $(( ${REFERENCE_CAP_S:-150} - 10 )) \
    --cap $(( ${REFERENCE_CAP_S:-150} - 40 )) --cache-dir "/tmp/reference_cache/$seed/$name" --work "/tmp/reference_work/$seed/$name" > "$dir/stdout.log" 2>&1)
  echo "reference $name seed $seed: exit $?" | tee -a "$out/curves.log"
}
for name in $configs; do
  [[ -n "${spec[$name]:-}" ]] || { echo "unknown config '$name'; known: ${!spec[*]}" >&2; exit 2; }
  for seed in ${SEEDS:-42}; do
    run=$name; [[ $seed == 42 ]] || run=${name}_seed$seed
    ours "$run" "$name" "$seed" &
  done
  for seed in ${REFERENCE_SEEDS:-}; do reference "$name" "$seed" & done
done
wait
tar -C "$runs" -cf "$out/runs.tar" $(cd "$runs" && ls -d */config.yaml */metrics.jsonl */summary.json *.log 2>/dev/null)
if [[ -d "$out/reference" ]]; then tar -C "$out" -cf "$out/reference.tar" reference && rm -rf "$out/reference"; fi
