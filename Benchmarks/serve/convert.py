#!/usr/bin/env python3
"""Prints the folder of a model's float32 CTranslate2 conversion, made (once, then cached) by make bench's converter
step, bench.ct2_model. Runs in make bench's virtualenv, where torch and transformers are (bench_serve.py calls it as
`XLATE_BENCH_MAIN=Benchmarks/serve/convert.py Benchmarks/run.sh --model DIR --cache DIR`)."""
import argparse
import sys
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import bench  # noqa: E402

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--model", required=True)
p.add_argument("--cache", required=True)
a = p.parse_args()
print(bench.ct2_model(types.SimpleNamespace(model=a.model, cache=a.cache), "float32", bench.child_env(2, "default")))
