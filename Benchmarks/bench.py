#!/usr/bin/env python3
"""xlate vs CTranslate2 vs transformers: same model, same inputs, same settings.

Run through `make bench` / `Benchmarks/run.sh`, which provides a virtualenv with the pins of
Benchmarks/requirements.txt. Every engine and setting runs in its own subprocess, so its peak RSS
(`wait4` rusage) and load time are its own. Prints a table; writes the raw numbers to
Benchmarks/results/latest.json (and a timestamped copy).

Throughput counts target tokens the same way for every engine: the pieces `target.spm` produces for
the output text, plus one for `</s>`, summed over lines.

    Benchmarks/run.sh                     # full run: 1,000 Tatoeba + 500 newstest2014 lines, beam 4 and 1
    Benchmarks/run.sh --lines 100         # quick check (2/3 Tatoeba, 1/3 newstest)
    Benchmarks/run.sh --engines xlate,transformers --beams 4 --repeat 3
    Benchmarks/run.sh --engines xlate,xlate-int8,ct2-int8 --beams 4
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
ENGINES = ["xlate", "xlate-int8", "ct2-float32", "ct2-int8", "transformers"]
REFERENCE = "transformers"
# xlate engines and the arguments that make each (added to every xlate command, the load run's too).
XLATE_ENGINES = {"xlate": [], "xlate-int8": ["--compute-type", "int8"]}
# Each int8 engine and the float32 engine of the same implementation.
FLOAT32_OF = {"xlate-int8": "xlate", "ct2-int8": "ct2-float32"}
# xlate vs CTranslate2 at the same compute type: (compute type, xlate engine, CTranslate2 engine).
XLATE_VS_CT2 = [("float32", "xlate", "ct2-float32"), ("int8", "xlate-int8", "ct2-int8")]


# ----------------------------------------------------------------------------------------------
# Environment check (used by run.sh to decide whether to pip install)
# ----------------------------------------------------------------------------------------------

def check_env(requirements: Path = BENCH_DIR / "requirements.txt") -> int:
    """Exit 0 when every `name==version` pin of `requirements` is installed (local labels such as
    `+cpu` or `+cu132` are ignored), 1 otherwise."""
    from importlib import metadata

    ok = True
    for line in requirements.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, wanted = line.partition("==")
        try:
            have = metadata.version(name.strip())
        except metadata.PackageNotFoundError:
            print(f"bench: {name} missing", file=sys.stderr)
            ok = False
            continue
        if wanted and have.split("+", 1)[0] != wanted.strip():
            print(f"bench: {name} {have} installed, {wanted} pinned", file=sys.stderr)
            ok = False
    return 0 if ok else 1


# ----------------------------------------------------------------------------------------------
# Workers: one engine, one setting, one process
# ----------------------------------------------------------------------------------------------

def read_lines(path: str) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def write_lines(path: str, lines: list[str]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(line.replace("\n", " ") + "\n")


def worker_ct2(a) -> dict:
    t0 = time.perf_counter()
    import ctranslate2
    import sentencepiece as spm

    t1 = time.perf_counter()
    source_spm = spm.SentencePieceProcessor(model_file=os.path.join(a.model, "source.spm"))
    target_spm = spm.SentencePieceProcessor(model_file=os.path.join(a.model, "target.spm"))
    # intra: one batch at a time on all threads (the default here); inter: one batch per thread, single-threaded
    # (how xlate's --threads works).
    intra, inter = (a.threads, 1) if a.ct2_parallel == "intra" else (1, a.threads)
    translator = ctranslate2.Translator(
        a.ct2_dir, device="cpu", intra_threads=intra, inter_threads=inter, compute_type=a.compute_type)
    t2 = time.perf_counter()

    lines = read_lines(a.input)
    outputs = [""] * len(lines)
    todo = [i for i, line in enumerate(lines) if line.strip()]  # blank lines give blank lines, as in xlate
    batch = []
    for i in todo:
        pieces = source_spm.encode(lines[i], out_type=str)
        # As the official OPUS-MT / MarianMT example (tokenizer.encode appends </s>); truncated to the
        # model's max_position_embeddings keeping </s>, as transformers and xlate do.
        pieces = pieces[: a.max_source_length - 1] + ["</s>"]
        batch.append(pieces)
    # transformers' (and xlate's) max_length counts the decoder start token, and the last place goes to the
    # forced </s>: at most max_length - 2 text tokens. CTranslate2's max_decoding_length counts text tokens only
    # (no start token, no </s> when the limit is hit), so max_length - 2 gives the same output on runaway lines.
    results = translator.translate_batch(
        batch, beam_size=a.beam, max_batch_size=a.batch_size, max_decoding_length=a.max_length - 2)
    for i, result in zip(todo, results):
        outputs[i] = target_spm.decode(result.hypotheses[0])
    t3 = time.perf_counter()
    write_lines(a.output, outputs)
    return {"import_s": t1 - t0, "load_s": t2 - t1, "translate_s": t3 - t2, "lines": len(lines),
            "ctranslate2": ctranslate2.__version__, "intra_threads": intra, "inter_threads": inter}


def worker_transformers(a) -> dict:
    t0 = time.perf_counter()
    import torch
    import transformers
    from transformers import MarianMTModel, MarianTokenizer

    torch.set_num_threads(a.threads)
    t1 = time.perf_counter()
    tokenizer = MarianTokenizer.from_pretrained(a.model)
    model = MarianMTModel.from_pretrained(a.model, dtype=torch.float32).eval()
    t2 = time.perf_counter()

    lines = read_lines(a.input)
    outputs = [""] * len(lines)
    todo = [i for i, line in enumerate(lines) if line.strip()]
    ids = tokenizer([lines[i] for i in todo], truncation=True, max_length=a.max_source_length)["input_ids"]
    # Longest first, batches of similar length: what xlate and CTranslate2 (max_batch_size) do too.
    order = sorted(range(len(todo)), key=lambda k: -len(ids[k]))
    with torch.inference_mode():
        for start in range(0, len(order), a.batch_size):
            chunk = order[start:start + a.batch_size]
            enc = tokenizer.pad({"input_ids": [ids[k] for k in chunk]}, return_tensors="pt")
            generated = model.generate(
                input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                num_beams=a.beam, max_length=a.max_length, do_sample=False)
            for k, text in zip(chunk, tokenizer.batch_decode(generated, skip_special_tokens=True)):
                outputs[todo[k]] = text
    t3 = time.perf_counter()
    write_lines(a.output, outputs)
    return {"import_s": t1 - t0, "load_s": t2 - t1, "translate_s": t3 - t2, "lines": len(lines),
            "torch": torch.__version__, "transformers": transformers.__version__,
            "torch_threads": torch.get_num_threads()}


def worker_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="bench.py worker")
    p.add_argument("--engine", choices=["ct2", "transformers"], required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--ct2-dir")
    p.add_argument("--compute-type", default="float32")
    p.add_argument("--ct2-parallel", choices=["intra", "inter"], default="intra")
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--result", required=True)
    p.add_argument("--beam", type=int, required=True)
    p.add_argument("--batch-size", type=int, required=True)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--max-length", type=int, required=True)
    p.add_argument("--max-source-length", type=int, required=True)
    a = p.parse_args(argv)
    result = worker_ct2(a) if a.engine == "ct2" else worker_transformers(a)
    Path(a.result).write_text(json.dumps(result))
    return 0


# ----------------------------------------------------------------------------------------------
# Driver
# ----------------------------------------------------------------------------------------------

def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def child_env(threads: int, omp_wait_policy: str) -> dict:
    """The environment of every engine. xlate picks its OpenBLAS kernel and BLAS threading itself
    (OPENBLAS_CORETYPE and OPENBLAS_NUM_THREADS unset); the Python engines get their thread count both ways."""
    env = dict(os.environ)
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "XLATE_GEMM"):
        env.pop(var, None)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    if omp_wait_policy != "default":
        env["OMP_WAIT_POLICY"] = omp_wait_policy.upper()
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    return env


def run_child(cmd: list[str], env: dict, timeout: float | None = None) -> dict:
    """Runs cmd; returns wall seconds, peak RSS (MiB, this child alone via wait4), exit code, stderr."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=err)
        # A blocking wait, so that the wall time is the child's to the microsecond (polling every 50 ms rounded
        # xlate's 80 ms load up to 100 ms); a timer kills the child at the timeout.
        killer = threading.Timer(timeout, proc.kill) if timeout else None
        if killer:
            killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            if killer:
                killer.cancel()
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_rss_mib": usage.ru_maxrss / 1024.0, "rc": proc.returncode,
            "stderr": stderr[-4000:]}


def newest_mtime(paths) -> float:
    newest = 0.0
    for root in paths:
        root = Path(root)
        if root.is_file():
            newest = max(newest, root.stat().st_mtime)
        elif root.is_dir():
            for p in root.rglob("*"):
                if p.is_file():
                    newest = max(newest, p.stat().st_mtime)
    return newest


def ensure_xlate(a) -> dict:
    binary = Path(a.xlate_bin)
    info = {"binary": str(binary), "built": False, "stale": False}
    if a.xlate_bin_given or a.skip_build:
        if not binary.exists():
            sys.exit(f"bench: {binary} does not exist")
        return info
    sources = [REPO / "Sources", REPO / "Package.swift", REPO / "Package.resolved"]
    if binary.exists() and binary.stat().st_mtime >= newest_mtime(sources):
        return info
    log("building xlate: swift build -c release --product xlate (waits if another build holds the lock)")
    build = subprocess.run(["swift", "build", "-c", "release", "--product", "xlate"], cwd=REPO, stdout=sys.stderr)
    if build.returncode == 0:
        info["built"] = True
    elif binary.exists():
        log("WARNING: swift build failed; benchmarking the existing (stale) binary")
        info["stale"] = True
    else:
        sys.exit("bench: swift build failed and there is no xlate binary")
    return info


def xlate_version(binary: str, env: dict) -> dict:
    out = subprocess.run([binary, "--version"], env=env, capture_output=True, text=True).stdout
    kernel = re.search(r"^OpenBLAS kernel:\s*(.*)$", out, re.M)
    gemm = re.search(r"^GEMM:\s*(.*)$", out, re.M)
    name = kernel.group(1).split()[0] if kernel else "?"
    help_text = subprocess.run([binary, "--help"], env=env, capture_output=True, text=True).stdout
    return {"text": out.strip(), "openblas_kernel": name,
            "openblas_kernel_line": kernel.group(1).strip() if kernel else None,
            "gemm": gemm.group(1).strip() if gemm else None,
            "has_split_option": "--split" in help_text, "has_compute_type_option": "--compute-type" in help_text}


def setup_xlate(a, engines: list[str], env: dict, engines_given: bool) -> tuple[list[str], dict]:
    """Builds xlate when stale (ensure_xlate) and reads its --version; sets a.xlate_extra, the arguments every
    xlate command gets (--split a.xlate_split when the binary has the option). A binary without --compute-type
    cannot run xlate-int8: an error when --engines named it, else it is left out with a warning. Returns the
    engines to run and the metadata for the report."""
    meta = {"xlate_build": ensure_xlate(a), "xlate_version": xlate_version(a.xlate_bin, env)}
    v = meta["xlate_version"]
    a.xlate_extra = ["--split", a.xlate_split] if v["has_split_option"] else []
    meta["xlate_args"] = a.xlate_extra
    meta["xlate_engine_args"] = {e: XLATE_ENGINES[e] for e in engines if XLATE_ENGINES.get(e)}
    if "xlate-int8" in engines and not v["has_compute_type_option"]:
        if engines_given:
            sys.exit(f"{Path(sys.argv[0]).name}: {a.xlate_bin} has no --compute-type option: it cannot run xlate-int8")
        log(f"WARNING: {a.xlate_bin} has no --compute-type option: xlate-int8 left out")
        engines = [e for e in engines if e != "xlate-int8"]
        meta["xlate_engine_args"].pop("xlate-int8", None)
    log(f"xlate: GEMM {v['gemm']}; OpenBLAS kernel {v['openblas_kernel_line']}")
    return engines, meta


def measure_xlate_loads(a, engines: list[str], work: Path, env: dict) -> dict:
    """Each xlate engine's load time: the median wall time of its command on an empty input (process start +
    model load, int8 quantisation included), 3 runs. Sets a.xlate_loads."""
    empty = work / "empty.en"
    empty.write_text("")
    a.xlate_loads = {}
    for engine in [e for e in engines if e in XLATE_ENGINES]:
        loads = [run_child([a.xlate_bin, "--model", a.model, "-i", str(empty), "-o", str(work / "empty.de"),
                            "--beam", "4", "--threads", str(a.threads), *a.xlate_extra, *XLATE_ENGINES[engine]],
                           env, a.timeout)
                 for _ in range(3)]
        if any(l["rc"] != 0 for l in loads):
            sys.exit(f"bench: {engine} failed on an empty input:\n{loads[0]['stderr']}")
        load = {"wall_s": statistics.median(l["wall_s"] for l in loads), "walls_s": [l["wall_s"] for l in loads],
                "peak_rss_mib": max(l["peak_rss_mib"] for l in loads)}
        a.xlate_loads[engine] = load
        log(f"{engine} load (empty input): {load['wall_s']:.2f}s, {load['peak_rss_mib']:.0f} MiB")
    return a.xlate_loads


def ct2_model(a, quantization: str, env: dict) -> str:
    """Converts the model once per quantization; cached under $XLATE_BENCH_CACHE keyed by the model files."""
    import ctranslate2

    model = Path(a.model)
    key = hashlib.sha256()
    key.update(ctranslate2.__version__.encode())
    for name in sorted(os.listdir(model)):
        st = (model / name).stat()
        key.update(f"{name}:{st.st_size}:{int(st.st_mtime)}".encode())
    out = Path(a.cache) / "ct2" / f"{model.name}-{key.hexdigest()[:12]}-{quantization}"
    if (out / "model.bin").exists():
        return str(out)
    converter = shutil.which("ct2-transformers-converter", path=str(Path(sys.executable).parent)) \
        or shutil.which("ct2-transformers-converter")
    if not converter:
        sys.exit("bench: ct2-transformers-converter not found (pip install ctranslate2)")
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    log(f"converting {model} for CTranslate2 ({quantization}) -> {out}")
    t0 = time.perf_counter()
    r = subprocess.run([converter, "--model", str(model), "--output_dir", str(tmp), "--quantization", quantization,
                        "--force"], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"bench: ct2-transformers-converter failed:\n{r.stderr[-3000:]}")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    log(f"converted in {time.perf_counter() - t0:.1f}s")
    return str(out)


def prepare_input(a, work: Path) -> tuple[Path, dict]:
    sets = []
    if a.lines:
        n_tatoeba = round(a.lines * a.tatoeba / (a.tatoeba + a.news))
        counts = [(a.tatoeba_file, n_tatoeba), (a.news_file, a.lines - n_tatoeba)]
    else:
        counts = [(a.tatoeba_file, a.tatoeba), (a.news_file, a.news)]
    lines = []
    for path, n in counts:
        got = read_lines(path)[:n]
        lines += got
        sets.append({"file": str(path), "lines": len(got)})
    path = work / "input.en"
    write_lines(str(path), lines)
    return path, {"sets": sets, "lines": len(lines)}


def count_tokens(target_spm, lines: list[str]) -> int:
    return sum(len(target_spm.encode(line, out_type=str)) + 1 for line in lines)


def engine_command(a, engine: str, beam: int, inp: Path, out: Path, result: Path, ct2_dirs: dict) -> list[str]:
    """The command that translates inp into out with one engine at one beam size (the Python engines write their
    own timings to result). Needs a.model, a.batch_size, a.threads, a.max_length, a.max_source_length; xlate:
    a.xlate_bin and a.xlate_extra (setup_xlate); CTranslate2: a.ct2_parallel and ct2_dirs (ct2_model)."""
    if engine in XLATE_ENGINES:
        return [a.xlate_bin, "--model", a.model, "-i", str(inp), "-o", str(out), "--beam", str(beam),
                "--batch-size", str(a.batch_size), "--threads", str(a.threads), "--max-length", str(a.max_length),
                *a.xlate_extra, *XLATE_ENGINES[engine]]
    cmd = [sys.executable, str(Path(__file__).resolve()), "worker", "--model", a.model, "--input", str(inp),
           "--output", str(out), "--result", str(result), "--beam", str(beam),
           "--batch-size", str(a.batch_size), "--threads", str(a.threads), "--max-length", str(a.max_length),
           "--max-source-length", str(a.max_source_length)]
    if engine.startswith("ct2-"):
        return cmd + ["--engine", "ct2", "--ct2-dir", ct2_dirs[engine], "--compute-type", engine[4:],
                      "--ct2-parallel", a.ct2_parallel]
    return cmd + ["--engine", "transformers"]


def run_engine(a, engine: str, beam: int, inp: Path, work: Path, env: dict, ct2_dirs: dict) -> dict:
    """Runs one engine at one beam size once, in its own process."""
    out = work / f"{engine}-beam{beam}.de"
    result = work / f"{engine}-beam{beam}.json"
    result.unlink(missing_ok=True)
    loadavg = os.getloadavg()[0]
    cmd = engine_command(a, engine, beam, inp, out, result, ct2_dirs)
    child = run_child(cmd, env, a.timeout)
    run = {"process_s": child["wall_s"], "cpu_s": child["cpu_s"], "peak_rss_mib": child["peak_rss_mib"],
           "rc": child["rc"], "loadavg_before": loadavg}
    if child["rc"] != 0:
        log(f"{engine} beam {beam} FAILED (exit {child['rc']}):\n{child['stderr']}")
        return {**run, "error": f"exit {child['rc']}", "stderr": child["stderr"]}
    if engine in XLATE_ENGINES:
        # xlate cannot time itself: translation = process wall - (load: the same command on an empty input).
        load = a.xlate_loads[engine]["wall_s"]
        run["load_s"] = load
        run["translate_s"] = max(run["process_s"] - load, 1e-9)
    else:
        run.update(json.loads(result.read_text()))
    run["outputs"] = read_lines(str(out))
    log(f"{engine:13s} beam {beam}: translate {run['translate_s']:6.2f}s, load {run['load_s']:.2f}s, "
        f"peak RSS {run['peak_rss_mib']:4.0f} MiB (load average {loadavg:.2f})")
    return run


def summarise(engine: str, beam: int, runs: list[dict], target_spm) -> dict:
    """The fastest run's numbers (least disturbed by other work), plus every run's translate time."""
    failed = [r for r in runs if "error" in r]
    if failed:
        return {"engine": engine, "beam": beam, **failed[0]}
    best = dict(min(runs, key=lambda r: r["translate_s"]))
    times = [r["translate_s"] for r in runs]
    best.update(engine=engine, beam=beam, runs=len(runs), translate_s_all=times,
                translate_s_median=statistics.median(times),
                peak_rss_mib=max(r["peak_rss_mib"] for r in runs))
    if any(r["outputs"] != runs[0]["outputs"] for r in runs):
        best["warning"] = "outputs differ between runs"
    best["target_tokens"] = count_tokens(target_spm, best["outputs"])
    best["sentences"] = len(best["outputs"])
    best["tokens_per_s"] = best["target_tokens"] / best["translate_s"]
    best["sentences_per_s"] = best["sentences"] / best["translate_s"]
    return best


def compare(rows: dict, sources: list[str], engine: str, beam: int, examples: int) -> dict | None:
    mine, ref = rows.get((engine, beam)), rows.get((REFERENCE, beam))
    if not mine or not ref or "outputs" not in mine or "outputs" not in ref:
        return None
    a, b = mine["outputs"], ref["outputs"]
    if len(a) != len(b):
        return {"identical": 0, "total": len(b), "error": f"{len(a)} lines vs {len(b)}"}
    diffs = [i for i in range(len(b)) if a[i] != b[i]]
    return {"identical": len(b) - len(diffs), "total": len(b),
            "examples": [{"line": i + 1, "source": sources[i], engine: a[i], REFERENCE: b[i]}
                         for i in diffs[:examples]]}


def xlate_vs_ct2(rows: dict, beams: list[int]) -> dict:
    """xlate against CTranslate2 at the same compute type (xlate float32 with CTranslate2 float32, xlate int8 with
    CTranslate2 int8), per beam size: target tokens per second and peak RSS, and their ratios."""
    versus = {}
    for beam in beams:
        for compute, mine, theirs in XLATE_VS_CT2:
            x, c = rows.get((mine, beam)), rows.get((theirs, beam))
            if not x or not c or "error" in x or "error" in c:
                continue
            versus[f"{compute}/beam{beam}"] = {
                "compute_type": compute, "beam": beam, "xlate": mine, "ct2": theirs,
                "xlate_tokens_per_s": x["tokens_per_s"], "ct2_tokens_per_s": c["tokens_per_s"],
                "tokens_per_s_ratio": x["tokens_per_s"] / c["tokens_per_s"],
                "xlate_peak_rss_mib": x["peak_rss_mib"], "ct2_peak_rss_mib": c["peak_rss_mib"],
                "peak_rss_ratio": x["peak_rss_mib"] / c["peak_rss_mib"]}
    return versus


def fmt(x, spec):
    return "-" if x is None else format(x, spec)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        return worker_main(sys.argv[2:])
    if len(sys.argv) > 1 and sys.argv[1] == "--check-env":
        return check_env()

    shared = Path(os.environ.get("XLATE_SHARED", REPO.parent / "shared"))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(REPO / "Models" / "xlate-en-de"))
    p.add_argument("--tatoeba-file", default=str(shared / "eval" / "tatoeba-test.en"))
    p.add_argument("--news-file", default=str(shared / "eval" / "newstest2014.en"))
    p.add_argument("--tatoeba", type=int, default=1000, help="first N lines of the Tatoeba file (default 1000)")
    p.add_argument("--news", type=int, default=500, help="first N lines of the newstest file (default 500)")
    p.add_argument("--lines", type=int, help="use N lines in all, split between the two files in the same ratio")
    p.add_argument("--engines", help=f"comma-separated subset of {','.join(ENGINES)} (default: all)")
    p.add_argument("--beams", default="4,1", help="comma-separated beam sizes (1 = greedy); default 4,1")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--repeat", type=int, default=3,
                   help="runs per engine and setting, interleaved; the fastest counts (default 3)")
    p.add_argument("--repeat-transformers", type=int, default=1, help="the same for transformers (default 1)")
    p.add_argument("--ct2-parallel", choices=["intra", "inter"], default="intra",
                   help="CTranslate2 threading: intra (default): intra_threads=THREADS, inter_threads=1; inter: "
                        "inter_threads=THREADS, intra_threads=1, one batch per thread as xlate does")
    p.add_argument("--omp-wait-policy", choices=["auto", "default", "passive", "active"], default="auto",
                   help="OMP_WAIT_POLICY for CTranslate2 and torch. Their OpenMP pools spin by default, which is "
                        "fastest on idle cores and collapses (5-10x) when other work shares them. auto (default): "
                        "passive when the load average at the start exceeds half the cores, else their default")
    p.add_argument("--examples", type=int, default=5, help="differing lines shown per comparison")
    p.add_argument("--timeout", type=float, default=1800, help="seconds allowed per engine run")
    p.add_argument("--xlate-bin", help="xlate binary (default .build/release/xlate, rebuilt when stale)")
    p.add_argument("--skip-build", action="store_true", help="never run swift build")
    p.add_argument("--xlate-split", default="none",
                   help="xlate's --split (default none: each line one segment, as the other engines do)")
    p.add_argument("--cache", default=os.environ.get("XLATE_BENCH_CACHE",
                                                     str(Path.home() / ".cache" / "xlate" / "bench")),
                   help="where converted CTranslate2 models are kept")
    p.add_argument("--results", default=str(BENCH_DIR / "results"))
    a = p.parse_args()
    a.xlate_bin_given = a.xlate_bin is not None
    a.xlate_bin = str(Path(a.xlate_bin or REPO / ".build" / "release" / "xlate").resolve())
    a.model = str(Path(a.model).resolve())
    a.engines_given = a.engines is not None
    engines = [e.strip() for e in (a.engines or ",".join(ENGINES)).split(",") if e.strip()]
    unknown = set(engines) - set(ENGINES)
    if unknown:
        p.error(f"unknown engine(s): {', '.join(sorted(unknown))}")
    beams = [int(b) for b in a.beams.split(",")]
    config = json.loads((Path(a.model) / "config.json").read_text())
    a.max_source_length = int(config.get("max_position_embeddings", 512))

    import sentencepiece as spm

    results_dir = Path(a.results)
    results_dir.mkdir(parents=True, exist_ok=True)
    work = results_dir / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    if a.omp_wait_policy == "auto":
        busy = os.getloadavg()[0] > 0.5 * (os.cpu_count() or 1)
        a.omp_wait_policy = "passive" if busy else "default"
        if busy:
            log(f"machine busy (load average {os.getloadavg()[0]:.2f}): OMP_WAIT_POLICY=PASSIVE for CTranslate2 "
                "and torch (--omp-wait-policy default to keep their spinning thread pools)")
    env = child_env(a.threads, a.omp_wait_policy)
    inp, input_info = prepare_input(a, work)
    sources = read_lines(str(inp))
    log(f"{len(sources)} input lines; engines {', '.join(engines)}; beams {beams}; batch {a.batch_size}; "
        f"{a.threads} threads; max length {a.max_length}")

    meta = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "host": platform.node(),
            "cpu": cpu_name(), "cores": os.cpu_count(), "loadavg_before": os.getloadavg(),
            "git": git_state(), "model": a.model, "input": input_info,
            "settings": {"beams": beams, "batch_size": a.batch_size, "threads": a.threads,
                         "max_length": a.max_length, "ct2_max_decoding_length": a.max_length - 2,
                         "repeat": a.repeat, "repeat_transformers": a.repeat_transformers,
                         "omp_wait_policy": env.get("OMP_WAIT_POLICY", "default"), "ct2_parallel": a.ct2_parallel},
            "python": sys.version.split()[0]}

    if any(e in XLATE_ENGINES for e in engines):
        engines, xlate_meta = setup_xlate(a, engines, env, a.engines_given)
        meta.update(xlate_meta)
        meta["xlate_loads"] = measure_xlate_loads(a, engines, work, env)
        if "xlate" in meta["xlate_loads"]:
            meta["xlate_load"] = meta["xlate_loads"]["xlate"]  # the key before xlate-int8 existed
    meta["engines"] = engines

    ct2_dirs = {}
    for engine in engines:
        if engine.startswith("ct2-"):
            ct2_dirs[engine] = ct2_model(a, engine[4:], env)
    if ct2_dirs:
        meta["ct2_backend"] = ct2_backend(next(iter(ct2_dirs.values())), env, a.threads)

    target_spm = spm.SentencePieceProcessor(model_file=str(Path(a.model) / "target.spm"))
    # Rounds, each running every engine and setting once: a burst of other work on the machine then hits one
    # run of each rather than every run of one engine. transformers is slow and gets fewer runs.
    runs = {(engine, beam): [] for beam in beams for engine in engines}
    rounds = max(a.repeat, a.repeat_transformers if REFERENCE in engines else 0)
    for r in range(rounds):
        if rounds > 1:
            log(f"round {r + 1}/{rounds}")
        for beam in beams:
            for engine in engines:
                wanted = a.repeat_transformers if engine == REFERENCE else a.repeat
                done = runs[(engine, beam)]
                if len(done) >= wanted or any("error" in x for x in done):
                    continue
                done.append(run_engine(a, engine, beam, inp, work, env, ct2_dirs))
    rows = {key: summarise(*key, value, target_spm) for key, value in runs.items()}
    meta["loadavg_after"] = os.getloadavg()

    comparisons = {}
    for (engine, beam) in rows:
        if engine != REFERENCE:
            c = compare(rows, sources, engine, beam, a.examples)
            if c:
                comparisons[f"{engine}/beam{beam}"] = c

    versus = xlate_vs_ct2(rows, beams)
    print_report(meta, rows, comparisons, engines, beams, versus)

    report = {**meta, "results": [{k: v for k, v in row.items() if k != "outputs"} for row in rows.values()],
              "identical_to_transformers": comparisons, "xlate_vs_ct2": versus}
    text = json.dumps(report, indent=2, ensure_ascii=False)
    (results_dir / "latest.json").write_text(text + "\n")
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    (results_dir / f"bench-{stamp}.json").write_text(text + "\n")
    print(f"\nraw numbers: {results_dir / 'latest.json'}; outputs: {work}/")
    return 1 if any("error" in row for row in rows.values()) else 0


NOTES = """\
translate s  translation only (tokenising, decoding, detokenising), fastest run; median s: median over the runs.
             xlate cannot time itself: its translate s is the process wall time minus its load s, the median wall
             time of the same command on an empty input (process start + model load; xlate-int8: quantising the
             weights included). Python engines: load s is the model + tokenizer load, not the Python / torch import.
cpu s        user + system CPU time of the whole process (load included); less sensitive than wall time to other
             work on the machine, unless a thread pool spins.
peak RSS     of the whole process, largest over the runs.
tokens       target.spm pieces of each output line + 1 (</s>), summed; the same count for every engine."""


def print_report(meta, rows, comparisons, engines, beams, versus=None) -> None:
    s = meta["settings"]
    print()
    kernel = meta.get("xlate_version", {}).get("openblas_kernel_line")
    print(f"CPU: {meta['cpu']} ({meta['cores']} cores), load average before {meta['loadavg_before'][0]:.2f}, "
          f"after {meta['loadavg_after'][0]:.2f}")
    if kernel:
        gemm = meta["xlate_version"].get("gemm")
        if gemm:
            print(f"xlate GEMM: {gemm}")
        print(f"xlate OpenBLAS kernel: {kernel}")
        if meta.get("xlate_args"):
            print(f"xlate extra arguments: {' '.join(meta['xlate_args'])}")
        for engine, args in meta.get("xlate_engine_args", {}).items():
            print(f"{engine}: xlate {' '.join(args)}")
    if "ct2_backend" in meta:
        t = s["threads"]
        threads = f"intra_threads={t}, inter_threads=1" if s["ct2_parallel"] == "intra" else \
            f"inter_threads={t}, intra_threads=1"
        print(f"CTranslate2: {threads}; {meta['ct2_backend']}")
    if s["omp_wait_policy"] != "default":
        print(f"OMP_WAIT_POLICY={s['omp_wait_policy']} for CTranslate2 and torch")
    print(f"input: {meta['input']['lines']} lines ({', '.join(Path(x['file']).name + ':' + str(x['lines']) for x in meta['input']['sets'])}); "
          f"batch {s['batch_size']}, {s['threads']} threads, max length {s['max_length']}; fastest of {s['repeat']} runs "
          f"(transformers: {s['repeat_transformers']})")
    busy = max(meta["loadavg_before"][0], meta["loadavg_after"][0])
    if busy > 0.5 * (meta["cores"] or 1):
        print(f"WARNING: the machine was busy (load average up to {busy:.2f} on {meta['cores']} cores): "
              "timings are noisy, and\n  the OpenMP thread pools of CTranslate2 and torch suffer most"
              + (" (try --omp-wait-policy passive)" if s["omp_wait_policy"] == "default" else ""))
    print()
    header = (f"{'engine':<13} {'beam':>4} {'tgt tok/s':>10} {'sent/s':>8} {'translate s':>11} {'median s':>8} {'cpu s':>7} {'load s':>7} "
              f"{'peak RSS MiB':>12} {'tokens':>7} {'= transformers':>15}")
    print(header)
    print("-" * len(header))
    for beam in beams:
        for engine in engines:
            row = rows.get((engine, beam), {})
            if "error" in row:
                print(f"{engine:<13} {beam:>4}  FAILED: {row['error']}")
                continue
            c = comparisons.get(f"{engine}/beam{beam}")
            same = f"{c['identical']}/{c['total']}" if c else ("(reference)" if engine == REFERENCE else "-")
            load = row.get("load_s")
            print(f"{engine:<13} {beam:>4} {fmt(row.get('tokens_per_s'), '10.1f')} {fmt(row.get('sentences_per_s'), '8.2f')} "
                  f"{fmt(row.get('translate_s'), '11.2f')} {fmt(row.get('translate_s_median'), '8.2f')} {fmt(row.get('cpu_s'), '7.1f')} {fmt(load, '7.2f')} {fmt(row.get('peak_rss_mib'), '12.0f')} "
                  f"{fmt(row.get('target_tokens'), '7d')} {same:>15}")
    if versus:
        print("\nxlate vs CTranslate2 at the same compute type (ratio > 1: xlate faster / larger):")
        for v in versus.values():
            print(f"  beam {v['beam']} {v['compute_type']:<7} {v['xlate']:<10} {v['xlate_tokens_per_s']:7.1f} vs "
                  f"{v['ct2']:<11} {v['ct2_tokens_per_s']:7.1f} tgt tok/s: {v['tokens_per_s_ratio']:.2f}x; "
                  f"peak RSS {v['xlate_peak_rss_mib']:.0f} vs {v['ct2_peak_rss_mib']:.0f} MiB: "
                  f"{v['peak_rss_ratio']:.2f}x")
    print()
    print(NOTES)
    for key, c in comparisons.items():
        engine = key.split("/")[0]
        if not c.get("examples"):
            continue
        print(f"\n{key}: {c['identical']}/{c['total']} lines identical to transformers; first differences:")
        for ex in c["examples"]:
            print(f"  line {ex['line']}: {ex['source']}")
            print(f"    {engine:<13} {ex[engine]}")
            print(f"    {REFERENCE:<13} {ex[REFERENCE]}")


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def git_state() -> dict:
    def git(*args):
        r = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else None
    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def ct2_backend(model_dir: str, env: dict, threads: int) -> str:
    """The ISA and GEMM backends CTranslate2 selects on this CPU (from its verbose log)."""
    code = ("import ctranslate2; ctranslate2.Translator(%r, device='cpu', intra_threads=%d, inter_threads=1)"
            % (model_dir, threads))
    r = subprocess.run([sys.executable, "-c", code], env={**env, "CT2_VERBOSE": "1"}, capture_output=True, text=True)
    picked = []
    for key in ("Selected ISA", "Use Intel MKL", "SGEMM backend", "GEMM_S8 backend"):
        m = re.search(re.escape(key) + r":\s*(.*)", r.stderr)
        if m:
            picked.append(f"{key} {m.group(1).strip()}")
    return "; ".join(picked) or "?"


if __name__ == "__main__":
    sys.exit(main())
