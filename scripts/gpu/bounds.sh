#!/usr/bin/env bash
# On a GPU host, from the repository root: the bound and device checks of a CUDA host (a model too large for the
# free GPU memory, a device index the host lacks) and the scans' CUDA check, into ${OUT:-.}/bounds.txt.
set -o pipefail
out=${OUT:-.}
R=${R:-/tmp/b/rebased/rebased}
{ nvidia-smi --query-gpu=name,memory.total,memory.free --format=csv
  for s in "--set model.d_model=1000000000" "--set model.d_model=300000" "--device cuda:3"; do
    echo "== train --config configs/simple_mqar.yaml $s"
    d="--device cuda"; [[ $s == --device* ]] && d=""
    timeout 30 $R train --config configs/simple_mqar.yaml $d $s --run-dir /tmp/chk 2>&1 | tail -3; echo "rc=$?"
  done
  echo "== sweep --devices cuda:9"; timeout 30 $R sweep configs/figure1.yaml --devices cuda:9 --store /tmp/chk.db 2>&1 | tail -3
  echo "== info"; timeout 30 $R info 2>&1 | tail -8
} 2>&1 | tee "$out/bounds.txt"
timeout 120 $R bench scans --device cuda --check 2>&1 | tail -4 | tee -a "$out/bounds.txt"
