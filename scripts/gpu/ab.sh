#!/usr/bin/env bash
# Before/after timing of the fused kernels on one GPU in one command: the bundle unpacked at $R (default
# /tmp/b/rebased/rebased) against a copy of it whose Rebased.dll is artifacts/baseline/Rebased.dll (built by
# scripts/baseline_dll.sh REV), alternating baseline, new, baseline, new per shape so that clock drift hits both.
# AB_DTYPE (default bf16), AB_SHAPES (default the T 2048 target shape and the d 128 training shape) and
# AB_BACK_TO_BACK (default 20 queued runs) set what is timed. Log: ${OUT:-.}/ab.log.
set -u
R=${R:-/tmp/b/rebased/rebased}
out=${OUT:-.}
dll=${AB_DLL:-artifacts/baseline/Rebased.dll}
[[ -x $R ]] || { echo "error: no bundle at $R; unpack artifacts/rebased-linux-x64.tar.xz or set R" >&2; exit 2; }
[[ -f $dll ]] || { echo "error: no baseline DLL at $dll; run scripts/baseline_dll.sh REV here and carry it" >&2; exit 2; }
bundle=$(dirname "$R")
copy=$(mktemp -d /tmp/rebased-ab.XXXXXX)/$(basename "$bundle")
cp -r "$bundle" "$copy"
cp "$dll" "$copy/Rebased.dll"
B=$copy/$(basename "$R")
echo "baseline: $dll ($(cat "$(dirname "$dll")/COMMIT" 2>/dev/null || echo 'commit unknown')); new: $R" | tee "$out/ab.log"
for shape in ${AB_SHAPES:-8,16,2048,16,64 256,12,512,16,10}; do
  for side in baseline new baseline new; do
    exe=$R; [[ $side == baseline ]] && exe=$B
    echo "== $side $shape" | tee -a "$out/ab.log"
    timeout 120 "$exe" bench kernels --device cuda --dtype "${AB_DTYPE:-bf16}" --forms fused --shape "$shape" \
      --seconds 0.5 --back-to-back "${AB_BACK_TO_BACK:-20}" 2>&1 | tail -2 | tee -a "$out/ab.log"
  done
done
