#!/usr/bin/env sh
# Launcher of the self-contained bundle: finds a libtorch (REBASED_LIBTORCH, else the torch/lib of
# the python3 on PATH), puts it on the library path and starts rebased.
here=$(dirname "$(readlink -f "$0")")
if [ -z "${REBASED_LIBTORCH:-}" ] && command -v python3 >/dev/null 2>&1; then
  REBASED_LIBTORCH=$(python3 -c "import torch,os;print(os.path.dirname(torch.__file__)+'/lib')" 2>/dev/null) || REBASED_LIBTORCH=
fi
if [ -n "${REBASED_LIBTORCH:-}" ]; then
  export REBASED_LIBTORCH
  export LD_LIBRARY_PATH="$REBASED_LIBTORCH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
exec "$here/Rebased.Cli" "$@"
