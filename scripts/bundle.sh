#!/usr/bin/env bash
# Publishes `rebased` self-contained for linux-x64 without the CPU libtorch (it runs on the host's
# libtorch, e.g. PyTorch's torch/lib) and packs it as artifacts/rebased-linux-x64.tar.xz.
# Use on a GPU host without .NET:
#   tar -xJf rebased-linux-x64.tar.xz && rebased/rebased info
set -euo pipefail
cd "$(dirname "$0")/.."
out=artifacts/bundle
rm -rf "$out" && mkdir -p "$out"
dotnet publish src/Rebased.Cli -c Release -r linux-x64 --self-contained \
  -p:RebasedWithoutCpuLibtorch=true -p:DebugType=none -p:GenerateDocumentationFile=false -o "$out/rebased" >/dev/null
cp scripts/rebased-launcher.sh "$out/rebased/rebased"
chmod +x "$out/rebased/rebased"
tar -C "$out" -cJf artifacts/rebased-linux-x64.tar.xz rebased
size=$(stat -c %s artifacts/rebased-linux-x64.tar.xz)
echo "artifacts/rebased-linux-x64.tar.xz: $((size / 1024 / 1024)) MiB"
if [ "$size" -ge $((60 * 1024 * 1024)) ]; then echo "bundle exceeds 60 MB" >&2; exit 1; fi
