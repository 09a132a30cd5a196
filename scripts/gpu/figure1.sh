#!/usr/bin/env bash
# The Figure-1 grid (configs/figure1.yaml) on a GPU host, continued from the runs already in
# docs/results/figure1/runs.jsonl. Run from the repository root with the bundle unpacked at $R
# (default /tmp/b/rebased/rebased):
#
#   scripts/gpu/figure1.sh start      imports runs.jsonl into the store (first time on this machine), starts the
#                                     CUDA MPS daemon where the host has one, and starts the sweep as a background
#                                     session that outlives the command (it runs on while the machine stays up)
#   scripts/gpu/figure1.sh snapshot   writes $OUT/runs.jsonl: the committed runs plus every run finished here
#   scripts/gpu/figure1.sh stop       SIGTERM to the sweep (its trainers checkpoint), waits for it, then snapshot
#   scripts/gpu/figure1.sh run S      start, let the grid run until S seconds after this command began, stop
#
# Copy $OUT/runs.jsonl over docs/results/figure1/runs.jsonl and commit it. A later command on the same machine
# finds the store, the checkpoints and the running sweep in /tmp: `start` then says so and changes nothing.
# FIG1_DEVICES (default cuda:0) and FIG1_M (runs per GPU, default 8) set the packing; FIG1_MPS=0 leaves MPS off.
set -u
R=${R:-/tmp/b/rebased/rebased}
out=${OUT:-.}
runs=$PWD/docs/results/figure1/runs.jsonl
store=${FIG1_STORE:-/tmp/figure1.db}
pidfile=/tmp/figure1.pid
log=/tmp/figure1.log

running() { [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

start_mps() {
  [[ ${FIG1_MPS:-1} == 1 ]] && command -v nvidia-cuda-mps-control >/dev/null || return 0
  # Process names are cut to 15 characters: nvidia-cuda-mps is the control daemon or its server.
  if pgrep -x nvidia-cuda-mps >/dev/null; then echo "MPS already on"
  elif nvidia-cuda-mps-control -d; then echo "MPS on"; else echo "MPS could not start; runs time-slice the GPU"; fi
}

start() {
  if running; then echo "grid already running (pid $(cat "$pidfile")), store $store"; return 0; fi
  [[ -f $store ]] && echo "store $store kept from an earlier command on this machine" ||
    { [[ -f $runs ]] && $R sweep import "$runs" --store "$store" 2>&1 | tee -a "$log"; }
  start_mps | tee -a "$log"
  command -v nvidia-smi >/dev/null && ! pgrep -f "query-gpu=timestamp" >/dev/null &&
    setsid nohup nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv -l 15 \
      >>/tmp/figure1-gpu.csv 2>/dev/null </dev/null &
  # setsid: the sweep is its own session, so it is not ended with the command that started it.
  setsid nohup bash -c 'echo $$ > "$0"; exec "$1" sweep configs/figure1.yaml --devices "$2" --runs-per-device "$3" \
    --store "$4" --runs-dir /tmp/figure1' "$pidfile" "$R" "${FIG1_DEVICES:-cuda:0}" "${FIG1_M:-8}" "$store" \
    >>"$log" 2>&1 </dev/null &
  for _ in $(seq 20); do running && break; sleep 0.5; done
  running && echo "grid started (pid $(cat "$pidfile")) at $(date +%T)" || { echo "grid did not start:"; tail -5 "$log"; return 1; }
}

snapshot() {
  [[ -f $store ]] || { echo "no store at $store: nothing ran here"; return 1; }
  [[ -f $runs ]] && cp "$runs" "$out/runs.jsonl"
  # The sweep writes the store while this reads it; retry if SQLite is busy.
  for _ in 1 2 3 4 5; do $R sweep export "$out/runs.jsonl" --store "$store" --sweep figure1 && break; sleep 3; done
  $R sweep status --store "$store" 2>&1 | head -8
  cp "$store" "$out/figure1.db"; cp "$log" "$out/figure1.log" 2>/dev/null; cp /tmp/figure1-gpu.csv "$out/gpu-utilization.csv" 2>/dev/null
  true
}

stop() {
  if running; then
    local pid; pid=$(cat "$pidfile"); kill -TERM "$pid"
    for _ in $(seq 90); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -0 "$pid" 2>/dev/null && echo "sweep $pid still running after 90 s" || echo "sweep stopped"
  fi
  snapshot
}

case ${1:-} in
  start) start ;;
  snapshot) snapshot ;;
  stop) stop ;;
  run) [[ ${2:-} =~ ^[0-9]+$ ]] || { echo "usage: $0 run SECONDS" >&2; exit 2; }
       start || exit 1; while (( SECONDS < $2 )); do sleep 5; done; stop ;;
  *) echo "usage: $0 start | snapshot | stop | run SECONDS" >&2; exit 2 ;;
esac
