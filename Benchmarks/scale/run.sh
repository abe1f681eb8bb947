#!/usr/bin/env bash
# `make bench-scale`: xlate vs CTranslate2 at the sizes of opus-mt-en-de and opus-mt-tc-big (random weights, forced
# output lengths), then batch-1 latency. Arguments go to bench_scale.py (`Benchmarks/scale/run.sh --help`;
# `--sizes opus-mt-en-de --lines 50 --lengths 32 --no-latency` for a quick check).
#
# Uses the virtualenv of `make bench` ($XLATE_BENCH_VENV, default ~/.cache/xlate/bench-venv), made and filled by
# Benchmarks/run.sh from Benchmarks/requirements.txt when a pin is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
XLATE_BENCH_MAIN=Benchmarks/scale/bench_scale.py exec Benchmarks/run.sh "$@"
