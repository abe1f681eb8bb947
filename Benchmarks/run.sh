#!/usr/bin/env bash
# `make bench`: xlate vs CTranslate2 vs transformers on the bundled en-de model. Arguments go to bench.py
# (`Benchmarks/run.sh --help`; `--lines 100` for a quick check).
#
# The competitors live in a virtualenv, $XLATE_BENCH_VENV (default ~/.cache/xlate/bench-venv), created and
# filled from Benchmarks/requirements.txt when a pin is missing. Extra pip arguments can be given in
# $XLATE_BENCH_PIP_ARGS, e.g. "--extra-index-url https://download.pytorch.org/whl/cpu" for the CPU-only torch.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${XLATE_BENCH_VENV:-$HOME/.cache/xlate/bench-venv}"
PYTHON="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
    echo "[bench] creating virtualenv $VENV" >&2
    "$PYTHON" -m venv "$VENV"
fi
if ! "$VENV/bin/python" Benchmarks/bench.py --check-env; then
    echo "[bench] installing Benchmarks/requirements.txt into $VENV (torch is large; first time only)" >&2
    # shellcheck disable=SC2086
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check ${XLATE_BENCH_PIP_ARGS:-} \
        -r Benchmarks/requirements.txt
    "$VENV/bin/python" Benchmarks/bench.py --check-env
fi

# quality.sh runs quality.py the same way.
exec "$VENV/bin/python" "${XLATE_BENCH_MAIN:-Benchmarks/bench.py}" "$@"
