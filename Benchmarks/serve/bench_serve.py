#!/usr/bin/env python3
"""`xlate serve` vs LibreTranslate: the same model, the same HTTP load, the same cores.

Run through `make bench-serve` / `Benchmarks/serve/run.sh`, which provides a virtualenv with the pins of
Benchmarks/serve/requirements.txt (LibreTranslate from PyPI).

Both servers serve Models/xlate-en-de. LibreTranslate gets it as an Argos Translate package built here: the model
converted by `ct2-transformers-converter` (float32; in make bench's virtualenv, cached as `make bench` caches
it), `sentencepiece.model` (the
model's joint source/target SentencePiece model) and a sentence splitter, installed into an isolated XDG data
folder inside the virtualenv, so that LibreTranslate (`--load-only en,de`) sees that one package and nothing else.

Each server runs alone, on loopback, pinned to the same THREADS cores (`sched_setaffinity`) with THREADS compute
threads. For each client count (default 8 and 32) the same sentences (first lines of tatoeba-test.en and
newstest2014.en from ../shared/eval) go out as one `POST /translate` each (JSON, source en, target de), every client
taking the next sentence as soon as its previous answer came back, over one keep-alive connection per client.
Reported per server and client count: requests/s, target tokens/s (target.spm pieces of each answer + 1, as
`make bench` counts), p50/p99 latency, the server's peak RSS (VmHWM, whole process, cumulative over the run), the
server's CPU seconds, errors and empty answers, and how many answers are identical between the two servers.

    Benchmarks/serve/run.sh                       # both servers, 8 and 32 clients, 600 sentences
    Benchmarks/serve/run.sh --lines 100           # quick check
    Benchmarks/serve/run.sh --servers libretranslate --clients 8
"""
from __future__ import annotations

import argparse
import atexit
import datetime
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

SERVE_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(SERVE_DIR.parent))
import bench  # noqa: E402  (Benchmarks/bench.py: converter, token count, environment helpers)
from bench import REPO, log  # noqa: E402

SERVERS = ["xlate", "libretranslate"]
SOURCE, TARGET = "en", "de"
# The one Argos package the benchmark installs; bump PACKAGE_FORMAT when build_argos_package changes what it writes.
PACKAGE_NAME = "translate-en_de-xlate"
PACKAGE_FORMAT = 3


# ----------------------------------------------------------------------------------------------
# The Argos Translate package for LibreTranslate
# ----------------------------------------------------------------------------------------------

def argos_env(root: Path) -> dict:
    """The environment under which argostranslate reads and installs packages: XDG folders under `root` only.
    The proxies point at a closed loopback port: LibreTranslate's start-up model update and argostranslate's spaCy
    cache download (both network fetches) then fail at once, as its log says they may when offline, and never leave
    the machine."""
    return {"XDG_DATA_HOME": str(root / "data"), "XDG_CONFIG_HOME": str(root / "config"),
            "XDG_CACHE_HOME": str(root / "cache"),
            "ARGOS_PACKAGES_DIR": str(root / "data" / "argos-translate" / "packages"),
            "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
            "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
            "no_proxy": "", "NO_PROXY": ""}


def convert_model(a) -> Path:
    """The model's float32 CTranslate2 conversion, by `ct2-transformers-converter` in make bench's virtualenv
    (Benchmarks/run.sh creates and fills it; convert.py calls bench.ct2_model, which caches the result). Not in this
    virtualenv: torch would be imported into LibreTranslate's process (spaCy's thinc loads it when installed)."""
    r = subprocess.run([str(REPO / "Benchmarks" / "run.sh"), "--model", a.model, "--cache", a.cache], cwd=REPO,
                       env={**os.environ, "XLATE_BENCH_MAIN": str(SERVE_DIR / "convert.py")},
                       stdout=subprocess.PIPE, text=True, timeout=a.convert_timeout)
    lines = r.stdout.split()
    if r.returncode != 0 or not lines or not (Path(lines[-1]) / "model.bin").is_file():
        sys.exit(f"bench-serve: converting {a.model} with CTranslate2 failed (status {r.returncode})")
    return Path(lines[-1])


def build_argos_package(a, env: dict) -> Path:
    """Converts the model (bench.ct2_model, cached) and installs it as the only Argos package of an isolated data
    root under the virtualenv; returns that root (reused while the converted model is the same).

    What argos-translate-lt (LibreTranslate's Argos) reads from a package folder (argostranslate/package.py,
    translate.py, sbd.py, tokenizer.py):
    - metadata.json: from/to codes and names, type "translate";
    - model/: the CTranslate2 model (convert_model). Marian models need `</s>` after the source pieces (bench.py's CTranslate2
      worker appends it itself, as CTranslate2's OPUS-MT example does); Argos passes the pieces as they are, so the
      model's config.json gets `add_source_eos: true`, CTranslate2's own switch for that;
    - sentencepiece.model: one model for encoding the source and decoding the target; the bundled model's
      source.spm and target.spm are the same file (MODEL_CARD.md);
    - a sentence splitter. Its default, MiniSBD, downloads an ONNX model from the network when the package has no
      minisbd/ folder, and Stanza downloads its models too; this machine reaches PyPI only. So the package carries a
      spacy/ folder (a blank spaCy pipeline for the source language) and LibreTranslate runs with
      ARGOS_CHUNK_TYPE=SPACY: argostranslate loads that pipeline and adds spaCy's rule-based sentencizer. The
      benchmark's requests are one sentence each, so the splitter only has to leave them whole.
    """
    model = Path(a.model)
    for name in ("source.spm", "target.spm"):
        if not (model / name).is_file():
            sys.exit(f"bench-serve: {model / name} is missing")
    if (model / "source.spm").read_bytes() != (model / "target.spm").read_bytes():
        sys.exit(f"bench-serve: {model} has different source.spm and target.spm; an Argos package holds one "
                 "sentencepiece.model for both")
    ct2_dir = convert_model(a)
    root = Path(a.venv) / "argos" / f"{ct2_dir.name}-p{PACKAGE_FORMAT}"
    installed = root / "data" / "argos-translate" / "packages" / PACKAGE_NAME
    if (installed / "metadata.json").is_file():
        return root

    shutil.rmtree(root, ignore_errors=True)
    stage = Path(tempfile.mkdtemp(prefix="argos-package-", dir=a.venv))
    try:
        pkg = stage / PACKAGE_NAME
        pkg.mkdir()
        metadata = {"package_version": "1.0", "argos_version": "1.9", "type": "translate",
                    "from_code": SOURCE, "from_name": "English", "to_code": TARGET, "to_name": "German"}
        (pkg / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
        shutil.copytree(ct2_dir, pkg / "model")
        config_path = pkg / "model" / "config.json"
        config = json.loads(config_path.read_text())
        config["add_source_eos"] = True
        config_path.write_text(json.dumps(config, indent=2) + "\n")
        shutil.copyfile(model / "source.spm", pkg / "sentencepiece.model")
        import spacy

        spacy.blank(SOURCE).to_disk(pkg / "spacy")
        (pkg / "README.md").write_text(f"{model.name} for `make bench-serve` (xlate), converted by "
                                       f"ct2-transformers-converter into {ct2_dir.name}.\n")
        archive = stage / f"{PACKAGE_NAME}.argosmodel"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
            for path in sorted(pkg.rglob("*")):
                z.write(path, path.relative_to(stage))
        # argostranslate's own installer, in a child so that its settings read the isolated folders.
        code = ("import sys; from argostranslate import package; package.install_from_path(sys.argv[1]); "
                "print(' '.join(f'{p.from_code}-{p.to_code}' for p in package.get_installed_packages()))")
        r = subprocess.run([sys.executable, "-c", code, str(archive)], env={**env, **argos_env(root)},
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0 or r.stdout.split() != [f"{SOURCE}-{TARGET}"]:
            shutil.rmtree(root, ignore_errors=True)
            sys.exit(f"bench-serve: installing the Argos package failed (installed: {r.stdout.strip()!r}):\n"
                     f"{r.stderr[-3000:]}")
        # An empty local package index: nothing to download. LibreTranslate refreshes the index at start-up when
        # fewer than 2 packages are installed. Offline, with no index file, argostranslate's get_available_packages
        # retries itself until RecursionError (about 1,000 failed fetches, 100 s here); with an index that lists
        # packages, it goes on to download MiniSBD models (retrying for minutes). With an empty one it stops at once
        # ("Cannot update models (normal if you're offline)") and serves the installed package.
        (root / "data" / "argos-translate" / "index.json").write_text("[]\n")
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    log(f"Argos package {PACKAGE_NAME} installed under {root}")
    return root


# ----------------------------------------------------------------------------------------------
# Servers
# ----------------------------------------------------------------------------------------------

def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port: int, method: str, path: str, body: dict | None = None, timeout: float = 10.0,
            conn: http.client.HTTPConnection | None = None) -> tuple[int, bytes]:
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        if own:
            conn.close()


class Server:
    """One server process: its own process group (so stop() ends its children too), pinned to `cpus`, output to
    `log_path`. Every started server is stopped at exit, on SIGINT/SIGTERM/SIGHUP and on errors (stop_all)."""
    running: list["Server"] = []

    def __init__(self, name: str, cmd: list[str], env: dict, cwd: Path, port: int, cpus: set[int], log_path: Path):
        self.name, self.cmd, self.env, self.cwd, self.port, self.cpus = name, cmd, env, cwd, port, cpus
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        log(f"starting {self.name} on 127.0.0.1:{self.port}, cores {sorted(self.cpus)}: {' '.join(self.cmd)}")
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(self.cmd, env=self.env, cwd=self.cwd, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                         preexec_fn=lambda: os.sched_setaffinity(0, self.cpus))
        Server.running.append(self)

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def wait_ready(self, timeout: float) -> float:
        """Polls GET /languages until it lists en and de; returns the seconds it took."""
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with status {self.proc.returncode} before it was ready:\n"
                                   f"{self.log_tail()}")
            try:
                status, body = request(self.port, "GET", "/languages", timeout=5)
                codes = {lang.get("code") for lang in json.loads(body)} if status == 200 else set()
                if {SOURCE, TARGET} <= codes:
                    return time.perf_counter() - t0
            except (OSError, http.client.HTTPException, ValueError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} was not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def proc_status(self, key: str) -> float | None:
        """A kB field of /proc/PID/status (VmHWM = peak RSS), in MiB."""
        try:
            for line in open(f"/proc/{self.proc.pid}/status"):
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024.0
        except OSError:
            pass
        return None

    def cpu_seconds(self) -> float | None:
        try:
            fields = open(f"/proc/{self.proc.pid}/stat").read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return None

    def stop(self) -> int | None:
        """SIGTERM to the process group, SIGKILL after 15 s; returns the exit status (None if never started)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                log(f"{self.name} did not stop within 15 s of SIGTERM: killing it")
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                self.proc.wait()
        if self in Server.running:
            Server.running.remove(self)
        return self.proc.returncode

    @classmethod
    def stop_all(cls) -> None:
        for server in list(cls.running):
            server.stop()


def on_signal(signum, _frame):
    # Raising here unwinds main's finally blocks; atexit stops whatever is still running.
    raise SystemExit(128 + signum)


def xlate_server(a, port: int, work: Path, env: dict) -> Server:
    help_text = subprocess.run([a.xlate_bin, "serve", "--help"], env=env, capture_output=True, text=True)
    if help_text.returncode != 0:
        sys.exit(f"bench-serve: `{a.xlate_bin} serve --help` failed: this xlate has no serve command?\n"
                 f"{help_text.stderr[-2000:]}")
    cmd = [a.xlate_bin, "serve", "--host", "127.0.0.1", "--port", str(port), "--model", a.model]
    if "--threads" in help_text.stdout:
        cmd += ["--threads", str(a.threads)]
    cmd += a.xlate_args
    return Server("xlate", cmd, env, REPO, port, a.cpus, work / "xlate-serve.log")


def libretranslate_server(a, port: int, work: Path, env: dict) -> Server:
    root = build_argos_package(a, env)
    lt_env = {**env, **argos_env(root),
              "ARGOS_CHUNK_TYPE": "SPACY", "ARGOS_DEVICE_TYPE": "cpu",
              # CTranslate2 as LibreTranslate configures it: one translator replica, THREADS threads for each batch.
              "ARGOS_INTER_THREADS": "1", "ARGOS_INTRA_THREADS": str(a.threads)}
    lt = Path(sys.executable).parent / "libretranslate"
    cmd = [str(lt), "--host", "127.0.0.1", "--port", str(port), "--load-only", f"{SOURCE},{TARGET}",
           "--threads", str(a.lt_threads), "--disable-web-ui", *a.lt_args]
    cwd = root / "run"  # LibreTranslate may write state (db/) next to where it runs
    cwd.mkdir(exist_ok=True)
    return Server("libretranslate", cmd, lt_env, cwd, port, a.cpus, work / "libretranslate.log")


# ----------------------------------------------------------------------------------------------
# Load
# ----------------------------------------------------------------------------------------------

def translate_body(text: str) -> dict:
    return {"q": text, "source": SOURCE, "target": TARGET, "format": "text"}


def run_level(port: int, sentences: list[str], clients: int, timeout: float, level_timeout: float) -> dict:
    """Sends every sentence once, from `clients` threads each with its own keep-alive connection; each takes the
    next sentence when its answer arrived. Returns wall time, per-request latency/status/answer (in input order)."""
    n = len(sentences)
    latency = [None] * n
    status = [None] * n
    answers = [None] * n
    errors = [None] * n
    next_index = iter(range(n))
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    deadline = [0.0]

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        start.wait()
        try:
            while time.perf_counter() < deadline[0]:
                with lock:
                    i = next(next_index, None)
                if i is None:
                    return
                t0 = time.perf_counter()
                try:
                    code, body = request(port, "POST", "/translate", translate_body(sentences[i]), conn=conn)
                    status[i] = code
                    if code == 200:
                        answers[i] = json.loads(body)["translatedText"]
                    else:
                        errors[i] = body[:300].decode("utf-8", "replace")
                except (OSError, http.client.HTTPException, ValueError, KeyError) as e:
                    errors[i] = f"{type(e).__name__}: {e}"
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
                latency[i] = time.perf_counter() - t0
        finally:
            conn.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    deadline[0] = time.perf_counter() + level_timeout
    t0 = time.perf_counter()
    start.wait()
    for t in threads:
        t.join(max(0.0, deadline[0] + timeout + 5 - time.perf_counter()))
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "latency_s": latency, "status": status, "answers": answers, "errors": errors,
            "unfinished_clients": sum(t.is_alive() for t in threads)}


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def summarise(level: dict, sentences: list[str], target_spm) -> dict:
    ok = [i for i, a in enumerate(level["answers"]) if a is not None]
    sent = [x for x in level["latency_s"] if x is not None]
    outputs = [level["answers"][i] for i in ok]
    wall = level["wall_s"]
    tokens = bench.count_tokens(target_spm, outputs)
    return {"requests": len(sentences), "ok": len(ok), "errors": len(sentences) - len(ok),
            "empty": sum(1 for i in ok if sentences[i].strip() and not level["answers"][i].strip()),
            "unsent": sum(1 for x in level["latency_s"] if x is None),
            "wall_s": wall, "requests_per_s": len(ok) / wall, "target_tokens": tokens,
            "target_tokens_per_s": tokens / wall,
            "p50_ms": 1000 * statistics.median(sent) if sent else None,
            "p99_ms": 1000 * percentile(sent, 99) if sent else None,
            "max_ms": 1000 * max(sent) if sent else None,
            "first_errors": [e for e in level["errors"] if e][:5]}


def bench_server(server: Server, a, sentences: list[str], warmup: list[str], target_spm, work: Path) -> dict:
    """Starts the server, warms it up, runs every client count, stops it; the server's numbers and answers."""
    out = {"command": server.cmd, "levels": {}}
    try:
        server.start()
        out["ready_s"] = server.wait_ready(a.start_timeout)
        out["rss_ready_mib"] = server.proc_status("VmRSS")
        log(f"{server.name} ready after {out['ready_s']:.1f} s, RSS {out['rss_ready_mib']:.0f} MiB; "
            f"warm-up: {len(warmup)} requests")
        for text in warmup:
            code, body = request(server.port, "POST", "/translate", translate_body(text), timeout=a.request_timeout)
            if code != 200:
                raise RuntimeError(f"{server.name} answered {code} to a warm-up request: {body[:500]!r}\n"
                                   f"{server.log_tail()}")
        for clients in a.clients:
            cpu0 = server.cpu_seconds()
            level = run_level(server.port, sentences, clients, a.request_timeout, a.level_timeout)
            cpu1 = server.cpu_seconds()
            row = summarise(level, sentences, target_spm)
            row["server_cpu_s"] = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
            row["peak_rss_mib"] = server.proc_status("VmHWM")
            row["answers"] = level["answers"]
            if level["unfinished_clients"]:
                row["first_errors"].append(f"{level['unfinished_clients']} clients still waiting at the deadline")
            out["levels"][clients] = row
            (work / f"{server.name}-c{clients}.de").write_text(
                "".join((x if x is not None else "<ERROR>").replace("\n", " ") + "\n" for x in level["answers"]))
            log(f"{server.name} {clients:>2} clients: {row['requests_per_s']:.1f} req/s, "
                f"{row['target_tokens_per_s']:.0f} tok/s, p50 {row['p50_ms']:.0f} ms, p99 {row['p99_ms']:.0f} ms, "
                f"peak RSS {row['peak_rss_mib']:.0f} MiB, errors {row['errors']}, empty {row['empty']}")
            if server.proc.poll() is not None:
                raise RuntimeError(f"{server.name} exited ({server.proc.returncode}) during the run:\n"
                                   f"{server.log_tail()}")
    finally:
        out["exit_status"] = server.stop()
    return out


# ----------------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------------

def fmt(x, spec: str) -> str:
    return "—" if x is None else format(x, spec)


def print_report(meta: dict, results: dict, identical: dict) -> None:
    print()
    print(f"xlate serve vs LibreTranslate {meta['libretranslate_version']} — {meta['model']}, "
          f"{meta['sentences']} sentences (one per request), {meta['threads']} cores per server")
    print(f"CPU: {meta['cpu']} ({meta['cores']} cores), load average before {meta['loadavg_before'][0]:.2f}, "
          f"after {meta['loadavg_after'][0]:.2f}")
    print()
    print("| server | clients | requests/s | target tokens/s | p50 latency | p99 latency | peak RSS | "
          "server CPU s | errors | identical |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for clients in meta["clients"]:
        for name in meta["servers"]:
            row = results[name]["levels"].get(clients)
            if row is None:
                continue
            same = identical.get(clients)
            same = "—" if same is None else f"{same}/{row['requests']}"
            empty = f" (+{row['empty']} empty)" if row["empty"] else ""
            print(f"| {name} | {clients} | {row['requests_per_s']:.1f} | {row['target_tokens_per_s']:.0f} | "
                  f"{fmt(row['p50_ms'], '.0f')} ms | {fmt(row['p99_ms'], '.0f')} ms | "
                  f"{fmt(row['peak_rss_mib'], '.0f')} MiB | {fmt(row['server_cpu_s'], '.1f')} | "
                  f"{row['errors']}{empty} | {same} |")
    print()
    print("identical: answers equal between the two servers at that client count. peak RSS: VmHWM of the server "
          "process, the highest so far in its run (client counts run in the order shown).")
    for name in meta["servers"]:
        for clients, row in results[name]["levels"].items():
            for e in row["first_errors"]:
                print(f"{name} {clients} clients: {e}")


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--check-env":
        return bench.check_env(SERVE_DIR / "requirements.txt")

    shared = Path(os.environ.get("XLATE_SHARED", REPO.parent / "shared"))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(REPO / "Models" / "xlate-en-de"))
    p.add_argument("--tatoeba-file", default=str(shared / "eval" / "tatoeba-test.en"))
    p.add_argument("--news-file", default=str(shared / "eval" / "newstest2014.en"))
    p.add_argument("--lines", type=int, default=600,
                   help="sentences per client count: 2/3 from the Tatoeba file, 1/3 from the newstest file "
                        "(default 600)")
    p.add_argument("--warmup", type=int, default=16, help="unmeasured requests after start-up (default 16)")
    p.add_argument("--clients", default="8,32", help="comma-separated concurrent client counts (default 8,32)")
    p.add_argument("--servers", default=",".join(SERVERS), help=f"comma-separated subset of {','.join(SERVERS)}")
    p.add_argument("--threads", type=int, default=2,
                   help="cores each server is pinned to and its compute threads (default 2)")
    p.add_argument("--lt-threads", type=int, default=4,
                   help="LibreTranslate's --threads, its HTTP (waitress) worker threads (default 4, its own)")
    p.add_argument("--lt-args", default="", help="more LibreTranslate arguments (space-separated)")
    p.add_argument("--xlate-args", default="", help="more `xlate serve` arguments (space-separated)")
    p.add_argument("--omp-wait-policy", choices=["default", "passive", "active"], default="default",
                   help="OMP_WAIT_POLICY for LibreTranslate's CTranslate2 (default: its own)")
    p.add_argument("--request-timeout", type=float, default=120, help="seconds per request (default 120)")
    p.add_argument("--level-timeout", type=float, default=900,
                   help="seconds per client count; unsent requests count as errors (default 900)")
    p.add_argument("--start-timeout", type=float, default=180, help="seconds for a server to get ready")
    p.add_argument("--convert-timeout", type=float, default=3600,
                   help="seconds for the conversion, make bench's virtualenv set-up included (default 3600)")
    p.add_argument("--xlate-bin", help="xlate binary (default .build/release/xlate, rebuilt when stale)")
    p.add_argument("--skip-build", action="store_true", help="never run swift build")
    p.add_argument("--cache", default=os.environ.get("XLATE_BENCH_CACHE",
                                                     str(Path.home() / ".cache" / "xlate" / "bench")),
                   help="where converted CTranslate2 models are kept (shared with make bench)")
    p.add_argument("--venv", default=str(Path(sys.executable).parent.parent),
                   help="the virtualenv; the Argos data folder goes under VENV/argos")
    p.add_argument("--results", default=str(REPO / "Benchmarks" / "results"))
    a = p.parse_args()
    a.xlate_bin_given = a.xlate_bin is not None
    a.xlate_bin = str(Path(a.xlate_bin or REPO / ".build" / "release" / "xlate").resolve())
    a.model = str(Path(a.model).resolve())
    a.clients = [int(c) for c in a.clients.split(",")]
    a.lt_args = a.lt_args.split()
    a.xlate_args = a.xlate_args.split()
    servers = [s.strip() for s in a.servers.split(",") if s.strip()]
    if set(servers) - set(SERVERS):
        p.error(f"unknown server(s): {', '.join(sorted(set(servers) - set(SERVERS)))}")
    allowed = sorted(os.sched_getaffinity(0))
    if a.threads > len(allowed):
        p.error(f"--threads {a.threads}: only {len(allowed)} cores available")
    a.cpus = set(allowed[:a.threads])

    atexit.register(Server.stop_all)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)

    import sentencepiece as spm
    from importlib import metadata

    n_tatoeba = round(a.lines * 2 / 3)
    tatoeba = [s for s in bench.read_lines(a.tatoeba_file) if s.strip()]
    news = [s for s in bench.read_lines(a.news_file) if s.strip()]
    sentences = tatoeba[:n_tatoeba] + news[:a.lines - n_tatoeba]
    warmup = tatoeba[n_tatoeba:n_tatoeba + a.warmup]
    target_spm = spm.SentencePieceProcessor(model_file=str(Path(a.model) / "target.spm"))

    results_dir = Path(a.results)
    work = results_dir / "serve-work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "input.en").write_text("".join(s + "\n" for s in sentences))
    env = bench.child_env(a.threads, a.omp_wait_policy)
    meta = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "git": bench.git_state(),
            "cpu": bench.cpu_name(), "cores": os.cpu_count(), "loadavg_before": os.getloadavg(),
            "model": Path(a.model).name, "sentences": len(sentences),
            "inputs": {"tatoeba": [a.tatoeba_file, n_tatoeba], "news": [a.news_file, a.lines - n_tatoeba]},
            "clients": a.clients, "servers": servers, "threads": a.threads, "cpus": sorted(a.cpus),
            "libretranslate_version": metadata.version("libretranslate"),
            "argos_version": metadata.version("argos-translate-lt"),
            "ctranslate2_version": metadata.version("ctranslate2"), "lt_threads": a.lt_threads,
            "omp_wait_policy": a.omp_wait_policy}
    if "xlate" in servers:
        meta["xlate_build"] = bench.ensure_xlate(a)

    results = {}
    for name in servers:
        port = free_port()
        server = (xlate_server if name == "xlate" else libretranslate_server)(a, port, work, env)
        results[name] = bench_server(server, a, sentences, warmup, target_spm, work)
    meta["loadavg_after"] = os.getloadavg()

    identical = {}
    if len(servers) == 2:
        for clients in a.clients:
            x, lt = (results[s]["levels"][clients]["answers"] for s in servers)
            identical[clients] = sum(1 for u, v in zip(x, lt) if u is not None and u == v)
    print_report(meta, results, identical)

    report = {"meta": meta, "results": results, "identical": identical}
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    for path in (results_dir / "serve-latest.json", results_dir / f"serve-{stamp}.json"):
        path.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    log(f"raw numbers: {results_dir / 'serve-latest.json'}; answers: {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
