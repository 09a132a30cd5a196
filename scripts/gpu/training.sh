#!/usr/bin/env bash
# On a GPU host with the bundle unpacked at $R (default /tmp/b/rebased/rebased), from the repository root:
# the training benchmark against the reference's table, one epoch of real training, sweep throughput for
# 1, 2, 4 and 8 runs per GPU, and a slice of the Figure-1 grid. Logs and stores go to ${OUT:-.}.
# BENCH_ARGS adds options to every `bench train` (e.g. --precision bf16).
set -u
R=${R:-/tmp/b/rebased/rebased}
out=${OUT:-.}
stages=${STAGES:-bench,epoch,throughput,fig1}   # also: seeds (simple_mqar over eight seeds), mps (MPS on/off)
bench() { timeout 60 $R bench train --device cuda --steps 15 --warmup 3 ${BENCH_ARGS:-} "$@" 2>&1 | grep -E "^(mixer|step|ms/step|tokens/s|peak)" | tr -s ' ' | tee -a $out/bench-train.log; echo | tee -a $out/bench-train.log; }
if [[ $stages == *bench* ]]; then
  echo "== bench train (batch 512, fp32)"
  for m in ${BENCH_512:-rebased based conv_attention rwkv mamba attention}; do bench --mixer $m --seq-len 512 --kv-pairs 128 --d-model 128; done
  [[ -n "${BENCH_PHASES:-}" ]] && for m in $BENCH_PHASES; do
    timeout 60 $R bench train --device cuda --steps 10 --warmup 3 --phases --mixer $m --seq-len 512 --kv-pairs 128 --d-model 128 2>&1 | tail -5 | tee -a $out/bench-phases.log; done
  for m in ${BENCH_2048:-rebased based}; do bench --mixer $m --seq-len 2048 --kv-pairs 512 --d-model 256; done
fi

if [[ $stages == *epoch* ]]; then
echo "== one epoch, rebased L 512 K 128 d 128"
timeout 90 $R train --config configs/config_mqar.yaml --device cuda --run-dir /tmp/epoch1 \
  --set model.sequence_mixer.name=rebased --set data.input_seq_len=512 --set model.d_model=128 \
  --set data.batch_size=512 --set learning_rate=1e-3 --set seed=42 --set max_epochs=1 > $out/epoch1.log 2>&1; tail -4 $out/epoch1.log
cp /tmp/epoch1/metrics.jsonl $out/epoch1-metrics.jsonl 2>/dev/null
fi

# The throughput slice's data set, generated once into the shared cache before any timing.
warm_data() {
  timeout 120 $R train --config configs/config_mqar.yaml --device cuda --run-dir /tmp/tp-warm --set data.input_seq_len=128 \
    --set max_epochs=1 --set model.d_model=64 > /dev/null 2>&1
}
# timed_sweep NAME FILE DEVICES M: runs the sweep FILE with M runs per device into /tmp/tp-NAME; prints "FINISHED MS".
timed_sweep() {
  local start end
  start=$(date +%s%N)
  timeout 300 $R sweep "$2" --devices "$3" --runs-per-device "$4" --store /tmp/tp-$1.db --runs-dir /tmp/tp-$1 >/dev/null 2>&1
  end=$(date +%s%N)
  echo "$(python3 -c "import sqlite3,sys;print(sqlite3.connect(sys.argv[1]).execute(\"select count(*) from runs where status='finished'\").fetchone()[0])" /tmp/tp-$1.db) $(( (end - start) / 1000000 ))"
}

if [[ $stages == *throughput* ]]; then
echo "== sweep throughput (configs/gpu/throughput_sweep.yaml: 8 runs) on ${TP_DEVICES:-cuda:0}"
warm_data
for m in ${TP_M:-1 2 4 8}; do
  read -r done_runs ms < <(timed_sweep $m configs/gpu/throughput_sweep.yaml ${TP_DEVICES:-cuda:0} $m)
  echo "devices ${TP_DEVICES:-cuda:0}, runs-per-device $m: $done_runs runs finished in $ms ms ($(( done_runs * 3600000 / ms )) runs/hour)" | tee -a $out/throughput.log
done
fi

if [[ $stages == *mps* ]]; then
echo "== sweep throughput with and without CUDA MPS (the throughput slice at 2 epochs, 8 runs per GPU)"
sed 's/^    value: 1$/    value: 2/' configs/gpu/throughput_sweep.yaml > configs/gpu/throughput_sweep_2ep.yaml
warm_data
for mode in plain mps; do
  [[ $mode == mps ]] && { nvidia-cuda-mps-control -d || { echo "MPS could not start" | tee -a $out/throughput.log; break; }; }
  read -r done_runs ms < <(timed_sweep $mode configs/gpu/throughput_sweep_2ep.yaml cuda:0 8)
  echo "$mode: $done_runs runs finished in $ms ms" | tee -a $out/throughput.log
done
echo quit | nvidia-cuda-mps-control 2>/dev/null; rm -f configs/gpu/throughput_sweep_2ep.yaml
fi

if [[ $stages == *fig1* ]]; then
echo "== Figure-1 slice on ${FIG1_DEVICES:-cuda:0}"
[[ -n "${FIG1_STORE_IN:-}" && ! -f /tmp/fig1.db ]] && cp "$FIG1_STORE_IN" /tmp/fig1.db
timeout -k 45 ${FIG1_SECONDS:-230} $R sweep configs/gpu/fig1_slice.yaml --devices ${FIG1_DEVICES:-cuda:0} --runs-per-device ${FIG1_M:-8} --store /tmp/fig1.db --runs-dir /tmp/fig1 2>&1 | tail -3
$R sweep status --store /tmp/fig1.db 2>&1 | head -5
cp /tmp/fig1.db $out/fig1.db
fi

if [[ $stages == *seeds* ]]; then
echo "== simple_mqar over eight seeds"
timeout -k 30 ${SEEDS_SECONDS:-400} $R sweep configs/gpu/simple_mqar_seeds.yaml --devices cuda:0 --runs-per-device 8 --store /tmp/seeds.db --runs-dir /tmp/seeds 2>&1 | tail -3
$R sweep status --store /tmp/seeds.db 2>&1 | head -5
cp /tmp/seeds.db $out/seeds.db
mkdir -p $out/seeds && for d in /tmp/seeds/*/; do cp $d/metrics.jsonl $out/seeds/$(basename $d).jsonl 2>/dev/null; done
fi
