#!/usr/bin/env bash
# The test command: restores, builds (applying the TorchSharp compatibility fix where needed) and runs
# the whole test suite in Release mode.
set -euo pipefail
cd "$(dirname "$0")"
dotnet test Rebased.slnx -c Release "$@"
