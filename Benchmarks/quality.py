#!/usr/bin/env python3
"""Translation quality of xlate and CTranslate2, float32 and int8: corpus BLEU and chrF (sacrebleu).

Run through `Benchmarks/quality.sh`, which provides the virtualenv of `make bench` (Benchmarks/requirements.txt).
Translates whole evaluation sets from ../shared/eval with the bundled en-de model, with the settings and the
engine drivers of bench.py (beam 4, batch 32, max length 256, xlate with --split none), and scores every output
against the reference translations: sacrebleu corpus BLEU (default 13a tokenisation) and chrF, and the difference
of each int8 engine from the same implementation's float32 engine. Prints a table; writes the raw numbers and the
sacrebleu signatures to Benchmarks/results/quality-latest.json (and a timestamped copy).

Outputs are kept in the work folder (Benchmarks/results/quality-work/) with a key made of everything that decides
them (engine, its binary or driver code and versions, model files, input, settings): an unchanged engine is not
run again, so re-scoring is cheap. --force runs everything again.

    Benchmarks/quality.sh                              # full sets: tatoeba-test (17,565 lines), newstest2014 (3,003)
    Benchmarks/quality.sh --lines 30                   # quick check: first 30 lines of each set
    Benchmarks/quality.sh --sets newstest2014 --engines xlate,xlate-int8
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import inspect
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (the engine drivers, the CTranslate2 conversion cache, the child process runner)

BENCH_DIR = bench.BENCH_DIR
REPO = bench.REPO
DEFAULT_ENGINES = ["xlate", "xlate-int8", "ct2-float32", "ct2-int8"]
DEFAULT_SETS = ["tatoeba-test", "newstest2014"]
SET_ALIASES = {"tatoeba": "tatoeba-test", "newstest": "newstest2014"}


def log(msg: str) -> None:
    print(f"[quality {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def model_fingerprint(model: Path) -> str:
    """The model folder's file names, sizes and modification times (as bench.ct2_model keys its cache)."""
    h = hashlib.sha256()
    for name in sorted(os.listdir(model)):
        st = (model / name).stat()
        h.update(f"{name}:{st.st_size}:{int(st.st_mtime)}".encode())
    return h.hexdigest()


def engine_identity(a, engine: str) -> dict:
    """What decides an engine's output besides the input and the settings."""
    if engine in bench.XLATE_ENGINES:
        return {"xlate_sha256": a.xlate_sha256}
    ident = {"worker": sha256_text(inspect.getsource(bench.worker_ct2 if engine.startswith("ct2-")
                                                     else bench.worker_transformers))}
    from importlib import metadata
    for package in (("ctranslate2", "sentencepiece") if engine.startswith("ct2-")
                    else ("transformers", "torch", "sentencepiece")):
        ident[package] = metadata.version(package)
    return ident


def resolve_sets(names: list[str], eval_dir: Path) -> list[str]:
    sets = []
    for name in names:
        name = SET_ALIASES.get(name, name)
        if not (eval_dir / f"{name}.en").exists() or not (eval_dir / f"{name}.de").exists():
            found = sorted(p.name[:-3] for p in eval_dir.glob("*.en") if (eval_dir / (p.name[:-3] + ".de")).exists())
            sys.exit(f"quality: no {name}.en / {name}.de in {eval_dir} (sets: {', '.join(found)})")
        sets.append(name)
    return sets


def translate(a, engine: str, name: str, sources: list[str], setdir: Path, env: dict, ct2_dirs: dict,
              model_key: str) -> dict:
    """The engine's output for one set: from the work folder when its key matches, else run in its own process."""
    inp = setdir / "input.en"
    out = setdir / f"{engine}.de"
    result = setdir / f"{engine}.result.json"
    info_path = setdir / f"{engine}.json"
    cmd = bench.engine_command(a, engine, a.beam, inp, out, result, ct2_dirs)
    # The key: the command with its file paths left out, plus everything the command does not show.
    shown = [x for x in cmd if x not in (str(inp), str(out), str(result), sys.executable,
                                         str(Path(bench.__file__).resolve()), a.xlate_bin)]
    key = sha256_text(json.dumps({"engine": engine, "command": shown, "identity": engine_identity(a, engine),
                                  "model": model_key, "input": sha256_text("\n".join(sources))}, sort_keys=True))
    if not a.force and out.exists() and info_path.exists():
        info = json.loads(info_path.read_text())
        if info.get("key") == key:
            outputs = bench.read_lines(str(out))
            if len(outputs) == len(sources):
                log(f"{name}: {engine} output cached ({out})")
                return {**info, "outputs": outputs, "cached": True}
    result.unlink(missing_ok=True)
    info_path.unlink(missing_ok=True)
    log(f"{name}: {engine} translating {len(sources)} lines")
    child = bench.run_child(cmd, env, a.timeout)
    run = {"process_s": child["wall_s"], "cpu_s": child["cpu_s"], "peak_rss_mib": child["peak_rss_mib"],
           "rc": child["rc"], "command": cmd}
    if child["rc"] != 0:
        log(f"{name}: {engine} FAILED (exit {child['rc']}):\n{child['stderr']}")
        return {**run, "error": f"exit {child['rc']}", "stderr": child["stderr"]}
    if result.exists():
        run["worker"] = json.loads(result.read_text())
    outputs = bench.read_lines(str(out))
    if len(outputs) != len(sources):
        return {**run, "error": f"{len(outputs)} output lines for {len(sources)} input lines"}
    log(f"{name}: {engine} done in {run['process_s']:.1f}s (cpu {run['cpu_s']:.1f}s, "
        f"peak RSS {run['peak_rss_mib']:.0f} MiB)")
    info = {"key": key, "date": datetime.datetime.now().isoformat(timespec="seconds"), **run}
    info_path.write_text(json.dumps(info, indent=2) + "\n")
    return {**info, "outputs": outputs, "cached": False}


def main() -> int:
    shared = Path(os.environ.get("XLATE_SHARED", REPO.parent / "shared"))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sets", default=",".join(DEFAULT_SETS),
                   help="comma-separated evaluation sets: NAME for NAME.en / NAME.de in --eval-dir "
                        f"(default {','.join(DEFAULT_SETS)}; 'tatoeba' and 'newstest' are short for these)")
    p.add_argument("--engines", help=f"comma-separated subset of {','.join(bench.ENGINES)} "
                                     f"(default {','.join(DEFAULT_ENGINES)})")
    p.add_argument("--lines", type=int, help="the first N lines of each set only (quick checks)")
    p.add_argument("--xlate-bin", help="xlate binary (default .build/release/xlate, rebuilt when stale)")
    p.add_argument("--skip-build", action="store_true", help="never run swift build")
    p.add_argument("--model", default=str(REPO / "Models" / "xlate-en-de"))
    p.add_argument("--eval-dir", default=str(shared / "eval"))
    p.add_argument("--beam", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--omp-wait-policy", choices=["auto", "default", "passive", "active"], default="auto",
                   help="OMP_WAIT_POLICY for CTranslate2 and torch, as in bench.py (auto: passive when the machine "
                        "is busy at the start); it changes their speed, not their output")
    p.add_argument("--timeout", type=float, help="seconds allowed per engine and set (default: no limit)")
    p.add_argument("--force", action="store_true", help="translate again even when the work folder has the output")
    p.add_argument("--work", default=str(BENCH_DIR / "results" / "quality-work"),
                   help="where inputs and outputs are kept (default Benchmarks/results/quality-work)")
    p.add_argument("--cache", default=os.environ.get("XLATE_BENCH_CACHE",
                                                     str(Path.home() / ".cache" / "xlate" / "bench")),
                   help="where converted CTranslate2 models are kept (shared with bench.py)")
    p.add_argument("--results", default=str(BENCH_DIR / "results"))
    a = p.parse_args()

    import sacrebleu
    from sacrebleu.metrics import BLEU, CHRF

    a.engines_given = a.engines is not None
    engines = [e.strip() for e in (a.engines or ",".join(DEFAULT_ENGINES)).split(",") if e.strip()]
    unknown = set(engines) - set(bench.ENGINES)
    if unknown:
        p.error(f"unknown engine(s): {', '.join(sorted(unknown))}")
    # Each int8 engine is scored against its float32 engine: run that too (from the work folder when unchanged).
    for engine in list(engines):
        base = bench.FLOAT32_OF.get(engine)
        if base and base not in engines:
            engines.insert(engines.index(engine), base)
            log(f"{engine} is compared with {base}: {base} added")
    eval_dir = Path(a.eval_dir)
    sets = resolve_sets([s.strip() for s in a.sets.split(",") if s.strip()], eval_dir)
    # What bench.engine_command and the helpers it shares with bench.py expect.
    a.xlate_bin_given = a.xlate_bin is not None
    a.xlate_bin = str(Path(a.xlate_bin or REPO / ".build" / "release" / "xlate").resolve())
    a.xlate_split = "none"  # each line one segment, as the other engines translate it
    a.ct2_parallel = "intra"
    a.model = str(Path(a.model).resolve())
    config = json.loads((Path(a.model) / "config.json").read_text())
    a.max_source_length = int(config.get("max_position_embeddings", 512))
    if a.omp_wait_policy == "auto":
        busy = os.getloadavg()[0] > 0.5 * (os.cpu_count() or 1)
        a.omp_wait_policy = "passive" if busy else "default"
    env = bench.child_env(a.threads, a.omp_wait_policy)

    meta = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "host": platform.node(),
            "cpu": bench.cpu_name(), "cores": os.cpu_count(), "git": bench.git_state(), "model": a.model,
            "settings": {"beam": a.beam, "batch_size": a.batch_size, "threads": a.threads,
                         "max_length": a.max_length, "ct2_max_decoding_length": a.max_length - 2,
                         "lines": a.lines, "omp_wait_policy": env.get("OMP_WAIT_POLICY", "default")},
            "python": sys.version.split()[0], "sacrebleu": sacrebleu.__version__}
    if any(e in bench.XLATE_ENGINES for e in engines):
        engines, xlate_meta = bench.setup_xlate(a, engines, env, a.engines_given)
        meta.update(xlate_meta)
        a.xlate_sha256 = sha256_file(a.xlate_bin)
        meta["xlate_sha256"] = a.xlate_sha256
    ct2_dirs = {e: bench.ct2_model(a, e[4:], env) for e in engines if e.startswith("ct2-")}
    if ct2_dirs:
        import ctranslate2
        meta["ctranslate2"] = ctranslate2.__version__
        meta["ct2_models"] = ct2_dirs
    meta["engines"] = engines
    model_key = model_fingerprint(Path(a.model))
    log(f"sets {', '.join(sets)}{f' (first {a.lines} lines)' if a.lines else ''}; engines {', '.join(engines)}; "
        f"beam {a.beam}; batch {a.batch_size}; {a.threads} threads; max length {a.max_length}")

    work = Path(a.work)
    bleu_metric, chrf_metric = BLEU(), CHRF()
    results, failed = [], False
    sets_info = []
    for name in sets:
        sources = bench.read_lines(str(eval_dir / f"{name}.en"))
        references = bench.read_lines(str(eval_dir / f"{name}.de"))
        if len(sources) != len(references):
            sys.exit(f"quality: {name}.en has {len(sources)} lines, {name}.de {len(references)}")
        if a.lines:
            sources, references = sources[:a.lines], references[:a.lines]
        sets_info.append({"set": name, "source": str(eval_dir / f"{name}.en"),
                          "reference": str(eval_dir / f"{name}.de"), "lines": len(sources)})
        setdir = work / f"{name}-{a.lines or 'all'}"
        setdir.mkdir(parents=True, exist_ok=True)
        inp = setdir / "input.en"
        if not inp.exists() or bench.read_lines(str(inp)) != sources:
            bench.write_lines(str(inp), sources)
        outputs = {}
        for engine in engines:
            run = translate(a, engine, name, sources, setdir, env, ct2_dirs, model_key)
            row = {"set": name, "lines": len(sources), "engine": engine,
                   "output": str(setdir / f"{engine}.de"), "cached": run.get("cached", False),
                   **{k: run[k] for k in ("process_s", "cpu_s", "peak_rss_mib", "error") if k in run}}
            if "error" in run:
                failed = True
                results.append(row)
                continue
            outputs[engine] = run["outputs"]
            bleu = bleu_metric.corpus_score(run["outputs"], [references])
            chrf = chrf_metric.corpus_score(run["outputs"], [references])
            row.update(bleu=bleu.score, chrf=chrf.score, bleu_counts=bleu.counts, bleu_totals=bleu.totals,
                       bleu_precisions=bleu.precisions, bleu_bp=bleu.bp, sys_len=bleu.sys_len, ref_len=bleu.ref_len)
            results.append(row)
        for row in results:
            base = bench.FLOAT32_OF.get(row["engine"])
            if row["set"] != name or "bleu" not in row or base not in outputs:
                continue
            ref_row = next(r for r in results if r["set"] == name and r["engine"] == base)
            mine, theirs = outputs[row["engine"]], outputs[base]
            row.update(float32_engine=base, delta_bleu=row["bleu"] - ref_row["bleu"],
                       delta_chrf=row["chrf"] - ref_row["chrf"],
                       identical_to_float32=sum(x == y for x, y in zip(mine, theirs)))

    meta["sets"] = sets_info
    meta["signatures"] = {"bleu": str(bleu_metric.get_signature()), "chrf": str(chrf_metric.get_signature())}
    print_report(meta, results)

    results_dir = Path(a.results)
    results_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps({**meta, "results": results}, indent=2, ensure_ascii=False) + "\n"
    (results_dir / "quality-latest.json").write_text(text)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    (results_dir / f"quality-{stamp}.json").write_text(text)
    print(f"\nraw numbers: {results_dir / 'quality-latest.json'}; outputs: {work}/")
    return 1 if failed else 0


def print_report(meta: dict, results: list[dict]) -> None:
    s = meta["settings"]
    print()
    print(f"model {Path(meta['model']).name}; beam {s['beam']}, batch {s['batch_size']}, max length "
          f"{s['max_length']}; xlate {' '.join(meta.get('xlate_args', []))}; "
          f"CTranslate2 {meta.get('ctranslate2', '-')}; sacrebleu {meta['sacrebleu']}")
    print()
    header = (f"{'set':<16} {'lines':>6}  {'engine':<12} {'BLEU':>6} {'ΔBLEU':>6} {'chrF':>6} {'ΔchrF':>6} "
              f"{'= float32':>13}")
    print(header)
    print("-" * len(header))
    previous = None
    for row in results:
        first = row["set"] != previous
        previous = row["set"]
        label = f"{row['set']:<16} {row['lines']:>6}" if first else " " * 23
        if "error" in row:
            print(f"{label}  {row['engine']:<12} FAILED: {row['error']}")
            continue
        delta_bleu = f"{row['delta_bleu']:+6.2f}" if "delta_bleu" in row else f"{'-':>6}"
        delta_chrf = f"{row['delta_chrf']:+6.2f}" if "delta_chrf" in row else f"{'-':>6}"
        same = f"{row['identical_to_float32']}/{row['lines']}" if "identical_to_float32" in row else "-"
        print(f"{label}  {row['engine']:<12} {row['bleu']:6.2f} {delta_bleu} {row['chrf']:6.2f} {delta_chrf} "
              f"{same:>13}")
    print()
    print("ΔBLEU, ΔchrF: difference from the same implementation's float32 engine (xlate-int8 - xlate, "
          "ct2-int8 - ct2-float32);\n= float32: output lines identical to that engine's.")
    print(f"BLEU: {meta['signatures']['bleu']}")
    print(f"chrF: {meta['signatures']['chrf']}")


if __name__ == "__main__":
    sys.exit(main())
