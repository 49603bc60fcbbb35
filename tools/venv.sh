#!/usr/bin/env bash
# Create .venv from the pinned requirements; reuse it while the requirement files are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
hash=$(cat requirements.txt requirements-nodeps.txt constraints.txt setup.py settings.ini | sha256sum | cut -c1-16)
stamp=.venv/.req-$hash
if [ -f "$stamp" ]; then exit 0; fi
echo "== creating .venv from requirements.txt (hash $hash) =="
[ -d .venv ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade-strategy only-if-needed -r requirements.txt -c constraints.txt
.venv/bin/python -m pip install -q --no-deps -r requirements-nodeps.txt
.venv/bin/python -m pip install -q --no-deps --no-build-isolation -e .
rm -f .venv/.req-*; touch "$stamp"
echo "== .venv ready =="
