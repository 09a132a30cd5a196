#!/usr/bin/env bash
# Builds Rebased.dll at an earlier commit into artifacts/baseline/Rebased.dll, for before/after timings of the
# kernels in one GPU call (scripts/gpu/ab.sh swaps it into a second copy of the bundle). Usage:
#   scripts/baseline_dll.sh REV
set -eu
rev=${1:?usage: scripts/baseline_dll.sh REV (the commit whose kernels are the baseline)}
commit=$(git rev-parse --verify "$rev^{commit}")
tree=$(mktemp -d /tmp/rebased-baseline.XXXXXX)
trap 'git worktree remove --force "$tree" >/dev/null 2>&1 || true' EXIT
git worktree add --detach "$tree" "$commit" >/dev/null
dotnet build -c Release -v q "$tree/src/Rebased/Rebased.csproj" >/dev/null
mkdir -p artifacts/baseline
cp "$tree/src/Rebased/bin/Release/net10.0/Rebased.dll" artifacts/baseline/Rebased.dll
echo "$commit" > artifacts/baseline/COMMIT
echo "artifacts/baseline/Rebased.dll built at $commit"
