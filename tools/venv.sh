#!/usr/bin/env bash
# Create .venv from the pinned requirements; reuse it while the requirement files are unchanged.
# Also register the venv as the Jupyter kernel "avs_cldm" (user-level kernelspec), so that any Jupyter -- a system
# JupyterLab, VS Code, `papermill -k avs_cldm`, nbval -- can run the notebooks with the kit, not only `make lab`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
KERNEL=${AVS_KERNEL_NAME:-avs_cldm}

register_kernel() {
    # (re)register when the kernelspec is missing or points at another interpreter (another checkout's .venv)
    local dir="${JUPYTER_DATA_DIR:-$HOME/.local/share/jupyter}/kernels/$KERNEL"
    local py="$PWD/.venv/bin/python"
    if [ -f "$dir/kernel.json" ] && grep -qF "\"$py\"" "$dir/kernel.json"; then return 0; fi
    "$py" -m ipykernel install --user --name "$KERNEL" --display-name "$KERNEL (.venv)" >/dev/null
    echo "== Jupyter kernel '$KERNEL' registered ($dir -> $py) =="
}

hash=$(cat requirements.txt requirements-nodeps.txt constraints.txt setup.py settings.ini | sha256sum | cut -c1-16)
stamp=.venv/.req-$hash
if [ -f "$stamp" ]; then register_kernel; exit 0; fi
echo "== creating .venv from requirements.txt (hash $hash) =="
[ -d .venv ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade-strategy only-if-needed -r requirements.txt -c constraints.txt
.venv/bin/python -m pip install -q --no-deps -r requirements-nodeps.txt
.venv/bin/python -m pip install -q --no-deps --no-build-isolation -e .
rm -f .venv/.req-*; touch "$stamp"
register_kernel
echo "== .venv ready =="
