#!/usr/bin/env python3
"""Batch-1 latency: one sentence per call, the model loaded once, as an editor plugin or a server handler calls.

Sentences of about 10, 25 and 60 words from newstest2014 (the first --per-bucket of each bucket), each translated
alone with every output forced to the same number of text tokens in every engine: per bucket, the median source
token count of its sentences. Reported: p50 and p90 milliseconds per sentence, per size, beam size, engine, bucket.

Engines (each in its own process, model loaded once, one untimed warm-up call first):
  xlate        the library: hidden `xlate time-calls`, which times each Translator.translate call
  xlate-cli    `xlate --format json` reading stdin from a pipe: one line written, its output line awaited
  xlate-int8   the library with --compute-type int8
  ct2-float32  CTranslate2 translate_batch([one sentence]), intra_threads=THREADS (ct2-int8: compute_type int8)
  transformers generate(num_beams=B, min_length=max_length), torch.set_num_threads(THREADS)

Run by `make bench-scale` after the throughput table (Benchmarks/scale/bench_scale.py), or alone:
    Benchmarks/scale/run.sh --latency --sizes opus-mt-en-de
    ~/.cache/xlate/bench-venv/bin/python Benchmarks/scale/latency.py --sizes opus-mt-en-de --per-bucket 10
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

SCALE_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(SCALE_DIR.parent))
sys.path.insert(0, str(SCALE_DIR))
import bench  # noqa: E402
import bench_scale  # noqa: E402
from bench import log  # noqa: E402

REPO = bench.REPO
ENGINES = ["xlate", "xlate-cli", "xlate-int8", "ct2-float32", "ct2-int8", "transformers"]
DEFAULT_ENGINES = ["xlate", "xlate-cli", "ct2-float32", "transformers"]
# Bucket name: (fewest words, most words). newstest2014 has few sentences of 55-65 words, so "60" takes 50-70.
BUCKETS = {"10": (9, 11), "25": (23, 27), "60": (50, 70)}


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1), linear between the closest ranks."""
    values = sorted(values)
    k = (len(values) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


# ----------------------------------------------------------------------------------------------
# Python workers: one engine, every bucket, one process
# ----------------------------------------------------------------------------------------------

def worker(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="latency.py worker")
    p.add_argument("--engine", choices=["ct2", "transformers"], required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--ct2-dir")
    p.add_argument("--compute-type", default="float32")
    p.add_argument("--buckets", required=True, help="JSON file: [{name, length, xlate_length, lines}]")
    p.add_argument("--beam", type=int, required=True)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--result", required=True)
    a = p.parse_args(argv)
    buckets = json.loads(Path(a.buckets).read_text())
    family = bench_scale.family_of(Path(a.model))
    t0 = time.perf_counter()
    if a.engine == "ct2":
        import ctranslate2
        import sentencepiece as spm

        source_file, target_file = bench_scale.spm_files(a.model)
        source_spm = spm.SentencePieceProcessor(model_file=source_file)
        target_spm = spm.SentencePieceProcessor(model_file=target_file)
        translator = ctranslate2.Translator(a.ct2_dir, device="cpu", intra_threads=a.threads, inter_threads=1,
                                            compute_type=a.compute_type)

        def call(line: str, bucket: dict) -> int:
            pieces = bench_scale.ct2_source(family, source_spm.encode(line, out_type=str), 1 << 30)
            n = bench_scale.ct2_length(family, bucket["length"])
            result = translator.translate_batch([pieces], target_prefix=bench_scale.ct2_target_prefix(family, 1),
                                                beam_size=a.beam, min_decoding_length=n, max_decoding_length=n)
            tokens = result[0].hypotheses[0]
            target_spm.decode(tokens[1:] if family in bench_scale.LANGUAGES else tokens)  # as xlate detokenises
            return bench_scale.text_tokens(tokens, family)
    else:
        import torch
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        torch.set_num_threads(a.threads)
        tokenizer = AutoTokenizer.from_pretrained(a.model)
        model = AutoModelForSeq2SeqLM.from_pretrained(a.model, dtype=torch.float32).eval()
        # NLLB: eng_Latn sources, the target language forced first (as its model card's example).
        language = {}
        if family in bench_scale.LANGUAGES:
            source, target = bench_scale.LANGUAGES[family]
            tokenizer.src_lang = source
            language = {"forced_bos_token_id": tokenizer.convert_tokens_to_ids(target)}

        def call(line: str, bucket: dict) -> int:
            with torch.inference_mode():
                enc = tokenizer([line], return_tensors="pt")
                # transformers counts as xlate: the start token included, the forced </s> at the limit.
                length = bucket["xlate_length"]
                out = model.generate(**enc, num_beams=a.beam, do_sample=False, min_length=length, max_length=length,
                                     **language)
                tokenizer.batch_decode(out, skip_special_tokens=True)
            ids = out[0].tolist()[1:]  # without the decoder start token
            return bench_scale.text_tokens(tokenizer.convert_ids_to_tokens(ids), family)
    load_s = time.perf_counter() - t0
    call(buckets[0]["lines"][0], buckets[0])  # warm-up, untimed
    result = {"load_s": load_s, "buckets": {}}
    for bucket in buckets:
        ms, tokens = [], []
        for line in bucket["lines"]:
            start = time.perf_counter()
            tokens.append(call(line, bucket))
            ms.append((time.perf_counter() - start) * 1e3)
        result["buckets"][bucket["name"]] = {"ms": ms, "tokens": tokens}
    Path(a.result).write_text(json.dumps(result))
    return 0


# ----------------------------------------------------------------------------------------------
# xlate: the library (time-calls) and the CLI with a pipe
# ----------------------------------------------------------------------------------------------

def xlate_args(a, model: Path, beam: int, length: int, int8: bool) -> list[str]:
    return ["--model", str(model), "--beam", str(beam), "--threads", str(a.threads),
            "--min-length", str(length), "--max-length", str(length),
            *bench_scale.xlate_language_args(bench_scale.family_of(model))] + (["--compute-type", "int8"] if int8 else [])


def run_xlate_library(a, model: Path, beam: int, buckets: list[dict], int8: bool, work: Path, env: dict) -> dict:
    result = {"buckets": {}}
    family = bench_scale.family_of(model)
    for bucket in buckets:
        inp = work / f"latency-{bucket['name']}.en"
        bench.write_lines(str(inp), bucket["lines"])
        cmd = [a.xlate_bin, "time-calls", *xlate_args(a, model, beam, bucket["xlate_length"], int8), "-i", str(inp)]
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=a.timeout)
        if r.returncode != 0:
            sys.exit(f"latency: {' '.join(cmd)} failed (exit {r.returncode}):\n{r.stderr[-3000:]}")
        objects = [json.loads(line) for line in r.stdout.splitlines()]
        calls = [o for o in objects if "ms" in o]
        result["load_s"] = objects[-1]["load_ms"] / 1e3
        result["buckets"][bucket["name"]] = {"ms": [o["ms"] for o in calls],
                                             "tokens": [bench_scale.text_tokens(o["tokens"], family) for o in calls]}
    return result


def run_xlate_cli(a, model: Path, beam: int, buckets: list[dict], env: dict) -> dict:
    """One `xlate` process per bucket reading a pipe: each line is written, then its output line awaited. The time
    is the round trip through the pipes (what an editor plugin feeding xlate's stdin waits)."""
    result = {"buckets": {}}
    family = bench_scale.family_of(model)
    for bucket in buckets:
        # --quiet: stderr is read only at the end, so nothing but an error may go there.
        cmd = [a.xlate_bin, *xlate_args(a, model, beam, bucket["xlate_length"], False), "--split", "none",
               "--format", "json", "--quiet"]
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, bufsize=1)
        try:
            def call(line: str) -> tuple[float, int]:
                start = time.perf_counter()
                proc.stdin.write(line + "\n")
                proc.stdin.flush()
                reply = proc.stdout.readline()
                ms = (time.perf_counter() - start) * 1e3
                if not reply:
                    sys.exit(f"latency: {' '.join(cmd)} ended without answering:\n{proc.stderr.read()[-3000:]}")
                return ms, bench_scale.text_tokens(json.loads(reply)["tokens"], family)

            call(bucket["lines"][0])  # warm-up, and the model load, untimed
            timed = [call(line) for line in bucket["lines"]]
            proc.stdin.close()
            if proc.wait(timeout=60) != 0:
                sys.exit(f"latency: {' '.join(cmd)} failed (exit {proc.returncode}):\n{proc.stderr.read()[-3000:]}")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        result["buckets"][bucket["name"]] = {"ms": [t[0] for t in timed], "tokens": [t[1] for t in timed]}
    return result


def run_python(a, engine: str, model: Path, beam: int, buckets_file: Path, work: Path, env: dict,
               ct2_dirs: dict) -> dict:
    out = work / f"latency-{engine}-beam{beam}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "worker", "--model", str(model), "--buckets",
           str(buckets_file), "--beam", str(beam), "--threads", str(a.threads), "--result", str(out)]
    if engine.startswith("ct2-"):
        cmd += ["--engine", "ct2", "--ct2-dir", ct2_dirs[engine], "--compute-type", engine[4:]]
    else:
        cmd += ["--engine", "transformers"]
    child = bench.run_child(cmd, env, a.timeout)
    if child["rc"] != 0:
        sys.exit(f"latency: {engine} failed (exit {child['rc']}):\n{child['stderr']}")
    return json.loads(out.read_text())


# ----------------------------------------------------------------------------------------------
# Driver
# ----------------------------------------------------------------------------------------------

def choose_buckets(a, model: Path) -> list[dict]:
    """The first --per-bucket sentences of each word-count bucket, and each bucket's forced output length."""
    import sentencepiece as spm

    source_spm = spm.SentencePieceProcessor(model_file=bench_scale.spm_files(model)[0])
    family = bench_scale.family_of(model)
    lines = bench.read_lines(a.input)
    buckets = []
    for name in a.buckets.split(","):
        lo, hi = BUCKETS[name]
        chosen = [line for line in lines if lo <= len(line.split()) <= hi][: a.per_bucket]
        if not chosen:
            sys.exit(f"latency: no sentence of {lo}-{hi} words in {a.input}")
        n = int(statistics.median(len(source_spm.encode(line)) for line in chosen))
        buckets.append({"name": name, "words": [lo, hi], "length": n,
                        "xlate_length": bench_scale.xlate_length(family, n), "lines": chosen})
    return buckets


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        return worker(sys.argv[2:])
    shared = Path(os.environ.get("XLATE_SHARED", REPO.parent / "shared"))
    cache = Path.home() / ".cache" / "xlate"
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default=",".join(bench_scale.SIZES))
    p.add_argument("--beams", default="4,1")
    p.add_argument("--engines", default=",".join(DEFAULT_ENGINES), help=f"subset of {','.join(ENGINES)} "
                   f"(default {','.join(DEFAULT_ENGINES)})")
    p.add_argument("--buckets", default=",".join(BUCKETS), help="sentence lengths in words (default 10,25,60)")
    p.add_argument("--per-bucket", type=int, default=30, help="sentences per bucket (default 30)")
    p.add_argument("--input", default=str(shared / "eval" / "newstest2014.en"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--xlate-bin", default=str(REPO / ".build" / "release" / "xlate"))
    p.add_argument("--models", default=str(cache / "bench-scale" / "models"))
    p.add_argument("--cache", default=os.environ.get("XLATE_BENCH_CACHE", str(cache / "bench")))
    p.add_argument("--omp-wait-policy", choices=["auto", "default", "passive", "active"], default="auto")
    p.add_argument("--timeout", type=float, default=3600)
    p.add_argument("--json", help="write the numbers here (default Benchmarks/results/latency-latest.json)")
    a = p.parse_args()
    engines = list(dict.fromkeys(e for e in a.engines.split(",") if e))  # in order, each once
    unknown = set(engines) - set(ENGINES)
    if unknown:
        p.error(f"unknown engine(s): {', '.join(sorted(unknown))}")
    if a.omp_wait_policy == "auto":
        a.omp_wait_policy = "passive" if os.getloadavg()[0] > 0.5 * (os.cpu_count() or 1) else "default"
    env = bench.child_env(a.threads, a.omp_wait_policy)
    work = bench.BENCH_DIR / "results" / "work-latency"
    work.mkdir(parents=True, exist_ok=True)
    beams = [int(b) for b in a.beams.split(",")]
    report = {"loadavg_before": os.getloadavg(), "threads": a.threads, "engines": engines, "beams": beams,
              "omp_wait_policy": env.get("OMP_WAIT_POLICY", "default"), "sizes": {}}
    for size in [s for s in a.sizes.split(",") if s]:
        a.model = str(bench_scale.ensure_model(a, size))
        model = Path(a.model)
        ct2_dirs = {e: bench.ct2_model(a, e[4:], env) for e in engines if e.startswith("ct2-")}
        buckets = choose_buckets(a, model)
        buckets_file = work / f"buckets-{size}.json"
        buckets_file.write_text(json.dumps(buckets, ensure_ascii=False))
        log(f"latency {size}: buckets " + ", ".join(f"{b['name']} words: {len(b['lines'])} sentences, "
                                                   f"{b['length']} tokens" for b in buckets))
        sized = report["sizes"][size] = {"buckets": [{k: v for k, v in b.items() if k != "lines"} | {"sentences": len(b["lines"])} for b in buckets], "results": []}
        for beam in beams:
            for engine in engines:
                if engine in ("xlate", "xlate-int8"):
                    got = run_xlate_library(a, model, beam, buckets, engine == "xlate-int8", work, env)
                elif engine == "xlate-cli":
                    got = run_xlate_cli(a, model, beam, buckets, env)
                else:
                    got = run_python(a, engine, model, beam, buckets_file, work, env, ct2_dirs)
                for bucket in buckets:
                    b = got["buckets"][bucket["name"]]
                    wrong = [t for t in b["tokens"] if t != bucket["length"]]
                    if len(b["ms"]) != len(bucket["lines"]) or wrong:
                        sys.exit(f"latency: {engine} {size} beam {beam} bucket {bucket['name']}: outputs of "
                                 f"{sorted(set(wrong))} tokens, not {bucket['length']}")
                    row = {"engine": engine, "beam": beam, "bucket": bucket["name"], "tokens": bucket["length"],
                           "p50_ms": percentile(b["ms"], 0.5), "p90_ms": percentile(b["ms"], 0.9),
                           "ms": b["ms"], "load_s": got.get("load_s")}
                    sized["results"].append(row)
                    log(f"{size} beam {beam} {engine:12s} {bucket['name']:>3} words: p50 {row['p50_ms']:7.1f} ms, "
                        f"p90 {row['p90_ms']:7.1f} ms")
    report["loadavg_after"] = os.getloadavg()
    print_table(report)
    path = Path(a.json or bench.BENCH_DIR / "results" / "latency-latest.json")
    path.write_text(json.dumps(report, indent=2) + "\n")
    return 0


def print_table(report: dict) -> None:
    print(f"\n## Latency: one sentence per call, batch 1, {report['threads']} threads; p50 / p90 ms per sentence "
          f"(load average {report['loadavg_before'][0]:.2f} before, {report['loadavg_after'][0]:.2f} after)\n")
    for size, sized in report["sizes"].items():
        buckets = sized["buckets"]
        head = " | ".join(f"{b['name']} words ({b['sentences']} sent., {b['length']} tok)" for b in buckets)
        print(f"**{size}**\n")
        print(f"| beam | engine | {head} |")
        print("|---:|---|" + "---:|" * len(buckets))
        for beam in report["beams"]:
            for engine in report["engines"]:
                cells = []
                for b in buckets:
                    row = next(r for r in sized["results"]
                               if r["engine"] == engine and r["beam"] == beam and r["bucket"] == b["name"])
                    cells.append(f"{row['p50_ms']:.0f} / {row['p90_ms']:.0f}")
                print(f"| {beam} | {engine} | " + " | ".join(cells) + " |")
        print()


if __name__ == "__main__":
    sys.exit(main())
