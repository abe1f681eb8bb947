#!/usr/bin/env bash
# `make test-browser`: the page `xlate serve` answers GET / with, driven in headless Chromium (Debian's chromium +
# chromium-driver) by selenium (PyPI, in a virtualenv in $XLATE_BROWSER_VENV, default ~/.cache/xlate/browser-venv).
# Not part of `make test`. Arguments go to serve_page_test.py (--help).
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV="${XLATE_BROWSER_VENV:-$HOME/.cache/xlate/browser-venv}"
PYTHON="${PYTHON:-python3}"

for tool in chromium chromedriver; do
    command -v "$tool" >/dev/null || { echo "test-browser: $tool not found: apt-get install chromium chromium-driver" >&2; exit 1; }
done
if ! "$VENV/bin/python" -c "import selenium" 2>/dev/null; then
    echo "[test-browser] installing selenium into $VENV" >&2
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    # 4.51.0: 4.52 needs a certifi newer than the package index here serves.
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "selenium==4.51.0"
fi
exec "$VENV/bin/python" Tests/Browser/serve_page_test.py "$@"
