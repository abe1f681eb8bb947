#!/usr/bin/env python3
"""`make test-browser`: the translate page of `xlate serve` (GET /) in a real browser, headless Chromium.

Starts `xlate serve` with both bundled models on a free loopback port, opens the page, picks English -> German,
types a sentence, clicks Translate, and checks what the page shows against the server's own API answers:
- the translation shown equals `translatedText` of POST /translate (the LibreTranslate API) for the same text;
- the alignment map has the source words of POST /v1/translate (alignment "soft") as its columns and the target
  words as its rows;
- hovering each target word highlights exactly the source words that alignment links it to, by the rule the page
  states: its hard link, and every source word with a word-level weight >= 0.2 (a weight within 0.005 of 0.2 may go
  either way: the page reads it from a rounded cell title).
The pointer really moves (selenium's actions), so a highlight that shifts the layout under it is caught: the failure
then names the row the pointer ended on. Saves a screenshot with one target word hovered (default
docs/serve-page.png), taken before the per-word checks so that a failing run still leaves one. The server is stopped
at the end, also on failure, and must exit 0 on SIGTERM.

Run through Tests/Browser/run.sh (it provides selenium).
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

REPO = Path(__file__).resolve().parent.parent.parent
THRESHOLD = 0.2
TOLERANCE = 0.005


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port: int, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers={"Content-Type": "application/json"} if body is not None else {})
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        conn.close()


def wait_healthy(server: subprocess.Popen, port: int, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"xlate serve exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if call(port, "GET", "/health")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"xlate serve did not answer /health within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def stop(server: subprocess.Popen) -> int:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
            raise AssertionError("xlate serve did not exit within 20 s of SIGTERM")
    return server.returncode


def browser(width: int, height: int) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for argument in ("--headless=new", "--disable-dev-shm-usage", "--disable-gpu", f"--window-size={width},{height}",
                     "--hide-scrollbars", "--force-device-scale-factor=1"):
        options.add_argument(argument)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # Chromium refuses to run its sandbox as root
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)


def expected_links(alignment: dict) -> tuple[list[set[int]], list[set[int]]]:
    """Per target word: the source words that must be highlighted, and those that may be (weight near 0.2)."""
    sources, targets = alignment["source_words"], alignment["target_words"]
    matrix = alignment["matrix"]
    if len(matrix) != len(targets) or any(len(row) != len(sources) for row in matrix):
        raise AssertionError(f"alignment matrix is {len(matrix)}x{len(matrix[0]) if matrix else 0}, expected "
                             f"{len(targets)} target x {len(sources)} source words")
    must = [{j for j, w in enumerate(row) if w >= THRESHOLD + TOLERANCE} for row in matrix]
    may = [{j for j, w in enumerate(row) if abs(w - THRESHOLD) < TOLERANCE} for row in matrix]
    for source, target in alignment["links"]:
        must[target].add(source)
        may[target].discard(source)
    return must, may


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--xlate-bin", default=str(REPO / ".build" / "release" / "xlate"))
    p.add_argument("--text", default="The old man gave his granddaughter a red bicycle for her birthday.")
    p.add_argument("--screenshot", default=str(REPO / "docs" / "serve-page.png"))
    p.add_argument("--hover-word", type=int, default=None,
                   help="target word shown hovered in the screenshot (default: the middle one)")
    a = p.parse_args()

    port = free_port()
    log = Path(tempfile.mkstemp(prefix="xlate-serve-", suffix=".log")[1])
    command = [a.xlate_bin, "serve", "--host", "127.0.0.1", "--port", str(port), "--threads", "2",
               "--model", str(REPO / "Models" / "xlate-en-de"), "--model", str(REPO / "Models" / "xlate-de-en")]
    print("starting:", " ".join(command))
    with open(log, "wb") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  start_new_session=True)
    driver = None
    try:
        wait_healthy(server, port, log)
        # The references: the server's answers to the same text through its two APIs.
        status, libre = call(port, "POST", "/translate", {"q": a.text, "source": "en", "target": "de"})
        assert status == 200, f"POST /translate: {status} {libre}"
        status, native = call(port, "POST", "/v1/translate",
                              {"q": a.text, "source": "en", "target": "de", "alignment": "soft"})
        assert status == 200, f"POST /v1/translate: {status} {native}"
        alignment = native["translations"][0]["alignment"]
        must, may = expected_links(alignment)

        driver = browser(1200, 1400)
        driver.get(f"http://127.0.0.1:{port}/")
        wait = WebDriverWait(driver, 30)
        wait.until(lambda d: "en" in [o.get_attribute("value") for o in
                                      Select(d.find_element(By.ID, "source-lang")).options])
        # Pick the pair the other way round first, so that choosing it is a real change in the page.
        Select(driver.find_element(By.ID, "source-lang")).select_by_value("de")
        Select(driver.find_element(By.ID, "source-lang")).select_by_value("en")
        wait.until(lambda d: "de" in [o.get_attribute("value") for o in
                                      Select(d.find_element(By.ID, "target-lang")).options])
        Select(driver.find_element(By.ID, "target-lang")).select_by_value("de")
        source = driver.find_element(By.ID, "source")
        source.clear()
        source.send_keys(a.text)
        driver.find_element(By.ID, "translate").click()
        wait.until(lambda d: d.find_element(By.ID, "target").get_attribute("value")
                   or d.find_element(By.ID, "error").text)
        error = driver.find_element(By.ID, "error").text
        assert not error, f"the page shows an error: {error}"
        shown = driver.find_element(By.ID, "target").get_attribute("value")
        assert shown == libre["translatedText"], \
            f"page shows {shown!r}, POST /translate answered {libre['translatedText']!r}"
        print(f"translation: {shown!r} (= POST /translate)")

        table = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#alignment table.map"))
        columns = table.find_elements(By.CSS_SELECTOR, "thead tr:first-child > *")[1:]
        rows = table.find_elements(By.CSS_SELECTOR, "tbody tr")
        column_words = [c.get_attribute("textContent").strip() for c in columns]
        row_words = [r.find_element(By.CSS_SELECTOR, "th").get_attribute("textContent").strip() for r in rows]
        assert column_words == alignment["source_words"], \
            f"map columns {column_words}, /v1/translate source words {alignment['source_words']}"
        assert row_words == alignment["target_words"], \
            f"map rows {row_words}, /v1/translate target words {alignment['target_words']}"

        def hover(i: int) -> set[int]:
            """Moves the pointer onto target word i; the columns (source words) then highlighted."""
            header = rows[i].find_element(By.CSS_SELECTOR, "th")
            head_before = table.find_element(By.CSS_SELECTOR, "thead").rect["height"]
            ActionChains(driver).move_to_element(header).perform()
            try:
                WebDriverWait(driver, 5).until(lambda d: "on" in header.get_attribute("class").split())
            except TimeoutException:
                on = [row_words[k] for k, r in enumerate(rows)
                      if "on" in r.find_element(By.CSS_SELECTOR, "th").get_attribute("class").split()]
                head_after = table.find_element(By.CSS_SELECTOR, "thead").rect["height"]
                shift = (f"; the map's header row changed height from {head_before:.0f} to {head_after:.0f} px "
                         "while the highlight changed, moving the rows under the pointer"
                         if head_after != head_before else "")
                raise AssertionError(f"hovering target word {i} ({row_words[i]!r}) left {on} marked{shift}")
            return {k for k, c in enumerate(columns) if "linked" in c.get_attribute("class").split()}

        def check(i: int, linked: set[int]) -> None:
            missing, extra = must[i] - linked, linked - must[i] - may[i]
            assert not missing and not extra, (
                f"hovering {row_words[i]!r}: highlighted {[column_words[k] for k in sorted(linked)]}, the alignment "
                f"links {[column_words[k] for k in sorted(must[i])]}")
            print(f"hover {row_words[i]!r}: {[column_words[k] for k in sorted(linked)]}")

        # The screenshot first (one checked hover), so that it exists even when a later row fails.
        shot = a.hover_word if a.hover_word is not None else len(rows) // 2
        check(shot, hover(shot))
        Path(a.screenshot).parent.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(a.screenshot), "screenshot failed"
        print(f"screenshot: {a.screenshot} (hovering {row_words[shot]!r})")
        for i in range(len(rows)):
            check(i, hover(i))
    finally:
        if driver is not None:
            driver.quit()
        status = stop(server)
    assert status == 0, f"xlate serve exited with {status} after SIGTERM:\n{log.read_text()[-3000:]}"
    log.unlink()
    print("test-browser: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
