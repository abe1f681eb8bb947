#!/usr/bin/env bash
# `make quality`: BLEU and chrF of xlate and CTranslate2, float32 and int8, on whole evaluation sets with the
# bundled en-de model. Arguments go to quality.py (`Benchmarks/quality.sh --help`; `--lines 30` for a quick check).
#
# Uses the virtualenv of `make bench`, $XLATE_BENCH_VENV (default ~/.cache/xlate/bench-venv), created and filled
# from Benchmarks/requirements.txt when a pin is missing, as Benchmarks/run.sh does ($XLATE_BENCH_PIP_ARGS too).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${XLATE_BENCH_VENV:-$HOME/.cache/xlate/bench-venv}"
PYTHON="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
    echo "[quality] creating virtualenv $VENV" >&2
    "$PYTHON" -m venv "$VENV"
fi
if ! "$VENV/bin/python" Benchmarks/bench.py --check-env; then
    echo "[quality] installing Benchmarks/requirements.txt into $VENV (torch is large; first time only)" >&2
    # shellcheck disable=SC2086
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check ${XLATE_BENCH_PIP_ARGS:-} \
        -r Benchmarks/requirements.txt
    "$VENV/bin/python" Benchmarks/bench.py --check-env
fi

exec "$VENV/bin/python" Benchmarks/quality.py "$@"
