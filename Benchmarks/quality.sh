#!/usr/bin/env bash
# `make quality`: BLEU and chrF of xlate and CTranslate2, float32 and int8, on whole evaluation sets with the
# bundled en-de model. Arguments go to quality.py (`Benchmarks/quality.sh --help`; `--lines 30` for a quick check).
#
# Uses the virtualenv of `make bench` ($XLATE_BENCH_VENV, default ~/.cache/xlate/bench-venv), which run.sh creates and
# fills from Benchmarks/requirements.txt when a pin is missing.
set -euo pipefail
XLATE_BENCH_MAIN=Benchmarks/quality.py exec "$(dirname "$0")/run.sh" "$@"
