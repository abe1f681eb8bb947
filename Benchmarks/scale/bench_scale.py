#!/usr/bin/env python3
"""xlate vs CTranslate2 at the sizes people download: throughput with forced output lengths, then batch-1 latency.

Run through `make bench-scale` / `Benchmarks/scale/run.sh`, which provides the virtualenv of `make bench`.
For each size, a checkpoint with that model's exact shapes and random weights is made once (make_models.py) and
converted once for CTranslate2 (float32, int8; cached like `make bench`'s). Every engine then translates the same
input lines with every output forced to exactly N text tokens (min length = max length), so that random weights
cost every engine the same work; the driver counts each output's tokens and stops if one has another length.

    Benchmarks/scale/run.sh                                   # everything (hours on 2 cores: see Benchmarks/README.md)
    Benchmarks/scale/run.sh --sizes opus-mt-en-de --lines 50 --lengths 32 --no-latency   # a quick check
    Benchmarks/scale/run.sh --latency --sizes opus-mt-en-de   # only the batch-1 latency table (latency.py)
    Benchmarks/scale/run.sh --sizes nllb-200-distilled-600M --lines 20 --lengths 32 --beams 4 --repeat 1 --no-latency
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

SCALE_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(SCALE_DIR.parent))
import bench  # noqa: E402  (Benchmarks/bench.py: process runner, xlate build and load, CTranslate2 conversion)
from bench import log, fmt  # noqa: E402

REPO = bench.REPO
ENGINES = ["xlate", "xlate-int8", "ct2-float32", "ct2-int8"]
SIZES = ["opus-mt-en-de", "opus-mt-tc-big"]


# ----------------------------------------------------------------------------------------------
# How each model family's lengths are forced
# ----------------------------------------------------------------------------------------------

def family_of(model: Path) -> str:
    return json.loads((model / "config.json").read_text())["model_type"]


# Multilingual models (NLLB-200, model_type m2m_100) translate eng_Latn -> deu_Latn in every engine.
LANGUAGES = {"m2m_100": ("eng_Latn", "deu_Latn")}


def xlate_length(family: str, n: int) -> int:
    """The --min-length = --max-length that makes xlate write exactly n text tokens. xlate counts as transformers:
    the decoder start token is included, and Marian models force `</s>` at the last place, so n + 2; T5 forces no
    `</s>` (the output just stops at the limit), so n + 1; NLLB forces no `</s>` either, but its first generated
    token is the target language's (forced_bos_token_id), so n + 2."""
    return n + 1 if family == "t5" else n + 2


def ct2_length(family: str, n: int) -> int:
    """The min_decoding_length = max_decoding_length that makes CTranslate2 write exactly n text tokens: it counts
    neither the start token nor a `</s>`, but it counts the target prefix (NLLB's language token), so n + 1 there."""
    return n + 1 if family in LANGUAGES else n


def xlate_language_args(family: str) -> list[str]:
    """`--src` / `--tgt` for a multilingual model (which xlate requires), else nothing."""
    if family not in LANGUAGES:
        return []
    source, target = LANGUAGES[family]
    return ["--src", source, "--tgt", target]


def ct2_source(family: str, pieces: list[str], max_source_length: int) -> list[str]:
    """A source line for CTranslate2 as the model's tokenizer builds it, truncated to the model's positions: pieces
    + `</s>` (OPUS-MT, T5), `eng_Latn` + pieces + `</s>` (NLLB's non-legacy layout)."""
    if family in LANGUAGES:
        return [LANGUAGES[family][0]] + pieces[: max_source_length - 2] + ["</s>"]
    return pieces[: max_source_length - 1] + ["</s>"]


def ct2_target_prefix(family: str, lines: int) -> list[list[str]] | None:
    """NLLB's target language token as each line's target prefix (CTranslate2's way of forced_bos_token_id)."""
    return [[LANGUAGES[family][1]]] * lines if family in LANGUAGES else None


def spm_files(model) -> tuple[str, str]:
    """The source and target SentencePiece models: Marian's source.spm / target.spm, T5's one spiece.model, NLLB's
    one sentencepiece.bpe.model."""
    model = Path(model)
    if (model / "source.spm").exists():
        return str(model / "source.spm"), str(model / "target.spm")
    one = model / "sentencepiece.bpe.model"
    if not one.exists():
        one = model / "spiece.model"
    return str(one), str(one)


def text_tokens(pieces: list[str], family: str) -> int:
    """Text tokens among an engine's output pieces: xlate's JSON `tokens` end with `</s>` when the output has it;
    CTranslate2's hypotheses never list it. Neither lists the start token. Both begin NLLB's with the target
    language token, which is not text: -1 (never a length asked for) when it is missing."""
    if family in LANGUAGES:
        if pieces[:1] != [LANGUAGES[family][1]]:
            return -1
        pieces = pieces[1:]
    return len([p for p in pieces if p != "</s>"])


# ----------------------------------------------------------------------------------------------
# Worker: CTranslate2, one setting, one process
# ----------------------------------------------------------------------------------------------

def worker_ct2(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="bench_scale.py worker")
    for name in ("--model", "--ct2-dir", "--compute-type", "--input", "--output", "--result"):
        p.add_argument(name, required=True)
    for name in ("--beam", "--batch-size", "--threads", "--length", "--max-source-length"):
        p.add_argument(name, type=int, required=True)
    a = p.parse_args(argv)

    t0 = time.perf_counter()
    import ctranslate2
    import sentencepiece as spm

    t1 = time.perf_counter()
    source_spm = spm.SentencePieceProcessor(model_file=spm_files(a.model)[0])
    translator = ctranslate2.Translator(a.ct2_dir, device="cpu", intra_threads=a.threads, inter_threads=1,
                                        compute_type=a.compute_type)
    t2 = time.perf_counter()
    lines = bench.read_lines(a.input)
    family = family_of(Path(a.model))
    # As the OPUS-MT example (and `make bench`) and NLLB's tokenizer build them (ct2_source).
    batch = [ct2_source(family, source_spm.encode(line, out_type=str), a.max_source_length) for line in lines]
    length = ct2_length(family, a.length)
    results = translator.translate_batch(batch, target_prefix=ct2_target_prefix(family, len(batch)),
                                         beam_size=a.beam, max_batch_size=a.batch_size,
                                         min_decoding_length=length, max_decoding_length=length)
    outputs = [r.hypotheses[0] for r in results]
    t3 = time.perf_counter()
    with open(a.output, "w", encoding="utf-8") as f:
        for pieces in outputs:
            f.write(json.dumps({"tokens": pieces}, ensure_ascii=False) + "\n")
    Path(a.result).write_text(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "translate_s": t3 - t2,
                                          "lines": len(lines), "ctranslate2": ctranslate2.__version__}))
    return 0


# ----------------------------------------------------------------------------------------------
# Driver
# ----------------------------------------------------------------------------------------------

def ensure_model(a, size: str) -> Path:
    """The random-weight checkpoint of `size`, made by make_models.py when missing."""
    model = Path(a.models) / size
    if not (model / "model.safetensors").exists():
        log(f"making {size} (random weights) in {model}")
        r = subprocess.run([sys.executable, str(SCALE_DIR / "make_models.py"), "--out", a.models, "--sizes", size])
        if r.returncode != 0:
            sys.exit(f"bench-scale: make_models.py failed for {size}")
    return model


def run_one(a, setting: dict, engine: str, inp: Path, work: Path, env: dict) -> dict:
    """One engine at one size, length and beam size, in its own process; checks every output's length."""
    size, n, beam, model = setting["size"], setting["length"], setting["beam"], setting["model"]
    stem = f"{size}-n{n}-beam{beam}-{engine}"
    out, result = work / f"{stem}.jsonl", work / f"{stem}.result.json"
    result.unlink(missing_ok=True)
    if engine in bench.XLATE_ENGINES:
        length = xlate_length(setting["family"], n)
        cmd = [a.xlate_bin, "--model", str(model), "-i", str(inp), "-o", str(out), "--beam", str(beam),
               "--batch-size", str(a.batch_size), "--threads", str(a.threads), "--split", "none",
               "--min-length", str(length), "--max-length", str(length), "--format", "json",
               *xlate_language_args(setting["family"]), *bench.XLATE_ENGINES[engine]]
    else:
        cmd = [sys.executable, str(Path(__file__).resolve()), "worker", "--model", str(model),
               "--ct2-dir", setting["ct2_dirs"][engine], "--compute-type", engine[4:], "--input", str(inp),
               "--output", str(out), "--result", str(result), "--beam", str(beam), "--batch-size", str(a.batch_size),
               "--threads", str(a.threads), "--length", str(n), "--max-source-length", str(setting["max_source"])]
    loadavg = os.getloadavg()[0]
    child = bench.run_child(cmd, env, a.timeout)
    run = {"process_s": child["wall_s"], "cpu_s": child["cpu_s"], "peak_rss_mib": child["peak_rss_mib"],
           "loadavg_before": loadavg}
    if child["rc"] != 0:
        sys.exit(f"bench-scale: {engine} failed on {size}, length {n}, beam {beam} (exit {child['rc']}):\n"
                 f"{' '.join(cmd)}\n{child['stderr']}")
    if engine in bench.XLATE_ENGINES:
        # xlate cannot time itself: translation = process wall - load (the same command on an empty input).
        run["load_s"] = setting["xlate_loads"][engine]["wall_s"]
        run["translate_s"] = max(run["process_s"] - run["load_s"], 1e-9)
    else:
        run.update(json.loads(result.read_text()))
    counts = [text_tokens(json.loads(line)["tokens"], setting["family"]) for line in bench.read_lines(str(out))]
    wrong = [(i + 1, c) for i, c in enumerate(counts) if c != n]
    if len(counts) != setting["lines"] or wrong:
        sys.exit(f"bench-scale: {engine} on {size}, beam {beam}: {len(counts)} outputs for {setting['lines']} lines; "
                 f"{len(wrong)} not {n} tokens long (line, tokens): {wrong[:5]}\n{' '.join(cmd)}\n{out}")
    run["target_tokens"] = sum(counts)
    log(f"{size} n={n} beam {beam} {engine:12s}: translate {run['translate_s']:7.2f}s, load {run['load_s']:.2f}s, "
        f"peak RSS {run['peak_rss_mib']:5.0f} MiB, {run['target_tokens']} tokens (load average {loadavg:.2f})")
    return run


def summarise(runs: list[dict]) -> dict:
    """The fastest run's numbers (least disturbed by other work), peak RSS the largest of the runs."""
    best = dict(min(runs, key=lambda r: r["translate_s"]))
    best["translate_s_all"] = [r["translate_s"] for r in runs]
    best["peak_rss_mib"] = max(r["peak_rss_mib"] for r in runs)
    best["tokens_per_s"] = best["target_tokens"] / best["translate_s"]
    return best


def throughput(a, sizes: list[str], lengths: list[int], beams: list[int], engines: list[str], env: dict,
               work: Path, meta: dict) -> list[dict]:
    lines = bench.read_lines(a.input)[: a.lines]
    if any(not line.strip() for line in lines):
        sys.exit(f"bench-scale: {a.input} has blank lines among its first {a.lines}; choose lines without")
    inp = work / "input.en"
    bench.write_lines(str(inp), lines)
    meta["input"] = {"file": a.input, "lines": len(lines)}
    rows = []
    split_args = list(a.xlate_extra)
    for size in sizes:
        model = ensure_model(a, size)
        a.model = str(model)  # what bench.ct2_model and bench.measure_xlate_loads read
        config = json.loads((model / "config.json").read_text())
        setting = {"size": size, "model": model, "family": config["model_type"], "lines": len(lines),
                   "max_source": int(config.get("max_position_embeddings", 512)),
                   "ct2_dirs": {e: bench.ct2_model(a, e[4:], env) for e in engines if e.startswith("ct2-")}}
        xlate_engines = [e for e in engines if e in bench.XLATE_ENGINES]
        # The load is timed on `xlate ... *a.xlate_extra` with an empty input: a multilingual model needs --tgt there.
        a.xlate_extra = split_args + xlate_language_args(setting["family"])
        setting["xlate_loads"] = bench.measure_xlate_loads(a, xlate_engines, work, env) if xlate_engines else {}
        settings = [(n, beam) for n in lengths for beam in beams]
        runs = {(n, beam, e): [] for n, beam in settings for e in engines}
        # Rounds, each running every engine at every setting once: a burst of other work then hits one run of
        # each rather than every run of one engine.
        for r in range(a.repeat):
            log(f"{size}: round {r + 1}/{a.repeat}")
            for n, beam in settings:
                for engine in engines:
                    runs[(n, beam, engine)].append(run_one(a, {**setting, "length": n, "beam": beam}, engine, inp,
                                                           work, env))
        for (n, beam, engine), done in runs.items():
            row = summarise(done)
            row.update(size=size, length=n, beam=beam, engine=engine)
            rows.append(row)
    return rows


def ratios(rows: list[dict]) -> list[dict]:
    """xlate against CTranslate2 at the same compute type, size, length and beam."""
    index = {(r["size"], r["length"], r["beam"], r["engine"]): r for r in rows}
    out = []
    for (size, n, beam, engine), x in index.items():
        for compute, mine, theirs in bench.XLATE_VS_CT2:
            c = index.get((size, n, beam, theirs))
            if engine == mine and c:
                out.append({"size": size, "length": n, "beam": beam, "compute_type": compute,
                            "tokens_per_s_ratio": x["tokens_per_s"] / c["tokens_per_s"],
                            "peak_rss_ratio": x["peak_rss_mib"] / c["peak_rss_mib"],
                            "load_ratio": x["load_s"] / c["load_s"]})
    return out


NOTES = """\
tok/s        target tokens per second of translation: lines x N (every output is checked to be N text tokens).
translate s  translation only, fastest of the runs. xlate: the process wall time minus its load s (the median
             wall time of the same command on an empty input); CTranslate2: translate_batch, tokenising included.
load s       xlate: process start + model load (int8: quantising included); CTranslate2: Translator(...) only.
peak RSS     of the whole process (wait4), largest over the runs.
x/ct2        xlate / CTranslate2 at the same compute type: > 1 is xlate faster (tok/s), larger (RSS)."""


def print_throughput(meta: dict, rows: list[dict], versus: list[dict]) -> None:
    s = meta["settings"]
    print(f"\n## Throughput: {meta['input']['lines']} lines of {Path(meta['input']['file']).name}, batch "
          f"{s['batch_size']}, {s['threads']} threads, every output forced to N text tokens; fastest of "
          f"{s['repeat']} runs\n")
    ratio = {(v["size"], v["length"], v["beam"], v["compute_type"]): v for v in versus}
    print("| size | N | beam | engine | tok/s | translate s | load s | peak RSS MiB | x/ct2 tok/s | x/ct2 RSS |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        compute = "int8" if r["engine"].endswith("int8") else "float32"
        v = ratio.get((r["size"], r["length"], r["beam"], compute)) if r["engine"].startswith("xlate") else None
        print(f"| {r['size']} | {r['length']} | {r['beam']} | {r['engine']} | {r['tokens_per_s']:.1f} | "
              f"{r['translate_s']:.2f} | {r['load_s']:.2f} | {r['peak_rss_mib']:.0f} | "
              f"{fmt(v and v['tokens_per_s_ratio'], '.2f')} | {fmt(v and v['peak_rss_ratio'], '.2f')} |")
    print()
    print(NOTES)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        return worker_ct2(sys.argv[2:])
    if len(sys.argv) > 1 and sys.argv[1] == "--check-env":
        return bench.check_env()

    shared = Path(os.environ.get("XLATE_SHARED", REPO.parent / "shared"))
    cache = Path.home() / ".cache" / "xlate"
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default=",".join(SIZES), help=f"comma-separated model shapes (default {','.join(SIZES)}; "
                   "make_models.py --help lists them)")
    p.add_argument("--lengths", default="32,128", help="output lengths N in text tokens (default 32,128)")
    p.add_argument("--beams", default="4,1", help="beam sizes (default 4,1)")
    p.add_argument("--engines", default=",".join(ENGINES), help=f"subset of {','.join(ENGINES)} (default: all)")
    p.add_argument("--lines", type=int, default=500, help="first N lines of --input (default 500)")
    p.add_argument("--input", default=str(shared / "eval" / "newstest2014.en"))
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=2, help="runs per engine and setting, interleaved; fastest counts")
    p.add_argument("--latency", action="store_true", help="only the batch-1 latency table (latency.py)")
    p.add_argument("--no-latency", action="store_true", help="only the throughput table")
    p.add_argument("--latency-args", default="", help="more arguments for latency.py, e.g. \"--per-bucket 10\"")
    p.add_argument("--omp-wait-policy", choices=["auto", "default", "passive", "active"], default="auto",
                   help="OMP_WAIT_POLICY for CTranslate2 and torch (see Benchmarks/bench.py --help); auto: passive "
                        "when the load average at the start exceeds half the cores")
    p.add_argument("--timeout", type=float, default=7200, help="seconds allowed per engine run")
    p.add_argument("--xlate-bin", help="xlate binary (default .build/release/xlate, rebuilt when stale)")
    p.add_argument("--skip-build", action="store_true", help="never run swift build")
    p.add_argument("--models", default=str(cache / "bench-scale" / "models"),
                   help="where the random-weight checkpoints are made and kept")
    p.add_argument("--cache", default=os.environ.get("XLATE_BENCH_CACHE", str(cache / "bench")),
                   help="where converted CTranslate2 models are kept (shared with make bench)")
    p.add_argument("--results", default=str(bench.BENCH_DIR / "results"))
    a = p.parse_args()
    if a.latency and a.no_latency:
        p.error("--latency and --no-latency exclude each other")
    sizes = [s for s in a.sizes.split(",") if s]
    lengths = [int(n) for n in a.lengths.split(",")]
    beams = [int(b) for b in a.beams.split(",")]
    engines = list(dict.fromkeys(e for e in a.engines.split(",") if e))  # in order, each once
    unknown = set(engines) - set(ENGINES)
    if unknown:
        p.error(f"unknown engine(s): {', '.join(sorted(unknown))}")
    a.xlate_bin_given = a.xlate_bin is not None
    a.xlate_bin = str(Path(a.xlate_bin or REPO / ".build" / "release" / "xlate").resolve())
    a.xlate_split = "none"

    if a.omp_wait_policy == "auto":
        busy = os.getloadavg()[0] > 0.5 * (os.cpu_count() or 1)
        a.omp_wait_policy = "passive" if busy else "default"
        if busy:
            log(f"machine busy (load average {os.getloadavg()[0]:.2f}): OMP_WAIT_POLICY=PASSIVE for CTranslate2")
    env = bench.child_env(a.threads, a.omp_wait_policy)
    results_dir = Path(a.results)
    work = results_dir / "work-scale"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)

    meta = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "cpu": bench.cpu_name(),
            "cores": os.cpu_count(), "loadavg_before": os.getloadavg(), "git": bench.git_state(),
            "settings": {"sizes": sizes, "lengths": lengths, "beams": beams, "engines": engines,
                         "batch_size": a.batch_size, "threads": a.threads, "repeat": a.repeat,
                         "omp_wait_policy": env.get("OMP_WAIT_POLICY", "default")}}
    engines, xlate_meta = bench.setup_xlate(a, engines, env, True)
    meta.update(xlate_meta)
    report = dict(meta)
    status = 0
    if not a.latency:
        rows = throughput(a, sizes, lengths, beams, engines, env, work, meta)
        versus = ratios(rows)
        meta["loadavg_after"] = os.getloadavg()
        print_throughput(meta, rows, versus)
        report.update(meta, throughput=rows, xlate_vs_ct2=versus)
    if not a.no_latency:
        sys.stdout.flush()
        cmd = [sys.executable, str(SCALE_DIR / "latency.py"), "--sizes", ",".join(sizes), "--threads", str(a.threads),
               "--xlate-bin", a.xlate_bin, "--models", a.models, "--cache", a.cache,
               "--omp-wait-policy", env.get("OMP_WAIT_POLICY", "default").lower(),
               "--json", str(work / "latency.json"), *a.latency_args.split()]
        status = subprocess.run(cmd).returncode
        if status == 0:
            report["latency"] = json.loads((work / "latency.json").read_text())
    report["loadavg_after"] = os.getloadavg()
    text = json.dumps(report, indent=2, ensure_ascii=False, default=str)
    (results_dir / "scale-latest.json").write_text(text + "\n")
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    (results_dir / f"scale-{stamp}.json").write_text(text + "\n")
    print(f"\nraw numbers: {results_dir / 'scale-latest.json'}; outputs: {work}/")
    return status


if __name__ == "__main__":
    sys.exit(main())
