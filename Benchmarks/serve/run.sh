#!/usr/bin/env bash
# `make bench-serve`: `xlate serve` vs LibreTranslate on the bundled en-de model over HTTP. Arguments go to
# bench_serve.py (`Benchmarks/serve/run.sh --help`; `--lines 100` for a quick check).
#
# LibreTranslate and CTranslate2's converter live in a virtualenv, $XLATE_SERVE_BENCH_VENV (default
# ~/.cache/xlate/serve-bench-venv), created and filled from Benchmarks/serve/requirements.txt when a pin is missing;
# the Argos package LibreTranslate serves is installed inside it (VENV/argos). Extra pip arguments can be given in
# $XLATE_BENCH_PIP_ARGS.
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV="${XLATE_SERVE_BENCH_VENV:-$HOME/.cache/xlate/serve-bench-venv}"
PYTHON="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
    echo "[bench-serve] creating virtualenv $VENV" >&2
    "$PYTHON" -m venv "$VENV"
fi
if ! "$VENV/bin/python" Benchmarks/serve/bench_serve.py --check-env; then
    echo "[bench-serve] installing Benchmarks/serve/requirements.txt into $VENV (torch is large; first time only)" >&2
    # shellcheck disable=SC2086
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check ${XLATE_BENCH_PIP_ARGS:-} \
        -r Benchmarks/serve/requirements.txt
    "$VENV/bin/python" Benchmarks/serve/bench_serve.py --check-env
fi

exec "$VENV/bin/python" Benchmarks/serve/bench_serve.py --venv "$VENV" "$@"
