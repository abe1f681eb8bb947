#!/usr/bin/env python3
"""The client side of `make demo-cluster` (deploy/demo-cluster.sh starts the replicas and nginx, then this).

Waits for both replicas and the balancer, translates REQUESTS sentences through the balancer with libretranslatepy
(the LibreTranslate client from PyPI) from 4 threads, then counts, per replica, the requests the balancer sent it
(nginx's access log records the upstream address of each) and the texts the replica itself says it translated
(`xlate_translated_texts_total` in its /metrics). Exits 1 unless every request was answered and both replicas
served some."""
import argparse
import re
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from libretranslatepy import LibreTranslateAPI

SENTENCES = [
    "The cat sat on the mat.",
    "Where is the railway station?",
    "I would like a cup of coffee, please.",
    "We are going to the mountains tomorrow.",
    "She reads a book every week.",
    "The weather is nice today.",
    "Can you help me with my homework?",
    "He has lived in Berlin for ten years.",
]


def get(url: str, timeout: float = 5) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode()


def wait_ready(url: str, path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            get(url + path)
            return
        except OSError as e:
            if time.monotonic() > deadline:
                sys.exit(f"demo-cluster: {url}{path} did not answer within {timeout:.0f} s ({e})")
            time.sleep(0.2)


def translated_texts(replica: str) -> float | None:
    """The replica's xlate_translated_texts_total (summed over its labels), None if /metrics has no such series."""
    values = [float(m.group(1)) for m in
              re.finditer(r"^xlate_translated_texts_total(?:\{[^}]*\})?\s+(\S+)$", get(replica + "/metrics"), re.M)]
    return sum(values) if values else None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--balancer", required=True)
    p.add_argument("--replica", action="append", required=True)
    p.add_argument("--access-log", required=True)
    p.add_argument("--requests", type=int, default=20)
    p.add_argument("--timeout", type=float, default=60)
    a = p.parse_args()

    for replica in a.replica:
        wait_ready(replica, "/health", a.timeout)
    wait_ready(a.balancer, "/languages", a.timeout)
    before = {replica: translated_texts(replica) for replica in a.replica}

    api = LibreTranslateAPI(a.balancer + "/")
    languages = api.languages()
    print("languages through the balancer:", ", ".join(f"{l['code']} ({l['name']})" for l in languages))
    texts = [SENTENCES[i % len(SENTENCES)] for i in range(a.requests)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda text: api.translate(text, "en", "de"), texts))
    for text, result in list(zip(texts, results))[:len(SENTENCES)]:
        print(f"  {text}  ->  {result}")
    failed = [text for text, result in zip(texts, results) if not result]
    if failed:
        print(f"demo-cluster: {len(failed)} requests got no translation", file=sys.stderr)

    after = {replica: translated_texts(replica) for replica in a.replica}
    log = open(a.access_log).read().splitlines()
    print(f"\n{a.requests} requests through {a.balancer}:")
    print("| replica | POST /translate in nginx's log | xlate_translated_texts_total (its /metrics) |")
    print("|---|---|---|")
    served = {}
    for replica in a.replica:
        address = replica.split("://", 1)[1]
        served[replica] = sum(1 for line in log
                              if line.startswith("POST /translate 200 ") and line.endswith("upstream=" + address))
        counted = "—" if after[replica] is None else f"+{after[replica] - (before[replica] or 0):.0f}"
        print(f"| {replica} | {served[replica]} | {counted} |")
    if sum(served.values()) != a.requests:
        print(f"demo-cluster: nginx logged {sum(served.values())} answered requests, {a.requests} sent",
              file=sys.stderr)
        return 1
    if failed or min(served.values()) == 0:
        print("demo-cluster: FAILED: every replica must serve requests", file=sys.stderr)
        return 1
    print("both replicas served requests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
