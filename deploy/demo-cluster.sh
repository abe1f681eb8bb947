#!/usr/bin/env bash
# `make demo-cluster`: two `xlate serve` replicas on loopback behind nginx, configured by deploy/nginx/xlate.conf
# (its ports rewritten to free ones), then the LibreTranslate client (libretranslatepy, from PyPI, in a virtualenv in
# $XLATE_DEMO_VENV, default ~/.cache/xlate/demo-venv) translating through the balancer; shows which replica answered
# each request and fails unless both did. Everything it starts is stopped on exit, also on failure or Ctrl-C.
#
# XLATE_BIN=path (default .build/release/xlate), REQUESTS=n (default 20), MODEL=dir (default Models/xlate-en-de).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN="${XLATE_BIN:-.build/release/xlate}"
MODEL="${MODEL:-Models/xlate-en-de}"
REQUESTS="${REQUESTS:-20}"
VENV="${XLATE_DEMO_VENV:-$HOME/.cache/xlate/demo-venv}"
PYTHON="${PYTHON:-python3}"
NGINX="${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"

say() { echo "[demo-cluster] $*" >&2; }
[ -x "$NGINX" ] || { say "nginx not found: apt-get install nginx (Debian's package; it is run here as a plain process)"; exit 1; }
[ -x "$BIN" ] || { say "$BIN not found: make build"; exit 1; }
if ! "$VENV/bin/python" -c "import libretranslatepy" 2>/dev/null; then
    say "installing libretranslatepy into $VENV"
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "libretranslatepy==2.1.4"
fi

WORK="$(mktemp -d -t xlate-demo-cluster.XXXXXX)"
PIDS=()
cleanup() {
    status=$?
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Three free loopback ports (the kernel picks them; nothing else binds them in the moment before we do).
read -r PORT1 PORT2 LB_PORT < <("$VENV/bin/python" - <<'PY'
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
PY
)

for i in 1 2; do
    port_var="PORT$i"
    say "replica $i: $BIN serve --port ${!port_var} --model $MODEL --threads 1"
    "$BIN" serve --host 127.0.0.1 --port "${!port_var}" --model "$MODEL" --threads 1 >"$WORK/replica$i.log" 2>&1 &
    PIDS+=($!)
done

# nginx as an unprivileged foreground process: its own prefix, pid file, logs and temp folders in $WORK; as root it
# runs as nobody (setpriv), so it can neither bind a privileged port nor write outside $WORK.
mkdir -p "$WORK/nginx"
sed -e "s/127\.0\.0\.1:5001/127.0.0.1:$PORT1/; s/127\.0\.0\.1:5002/127.0.0.1:$PORT2/" \
    -e "s/listen 127\.0\.0\.1:8080;/listen 127.0.0.1:$LB_PORT;/" deploy/nginx/xlate.conf >"$WORK/nginx/xlate.conf"
cat >"$WORK/nginx/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log notice;
events { worker_connections 256; }
http {
    log_format upstream '\$request_method \$request_uri \$status upstream=\$upstream_addr';
    access_log $WORK/nginx/access.log upstream;
    client_body_temp_path $WORK/nginx/client_body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    include $WORK/nginx/xlate.conf;
}
CONF
AS_USER=()
if [ "$(id -u)" = 0 ]; then
    chmod 711 "$WORK"  # mktemp made it 700: let nobody reach $WORK/nginx
    chown -R 65534:65534 "$WORK/nginx"
    AS_USER=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
fi
"${AS_USER[@]}" "$NGINX" -t -q -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf"
say "nginx on 127.0.0.1:$LB_PORT balancing 127.0.0.1:$PORT1 and 127.0.0.1:$PORT2 (deploy/nginx/xlate.conf)"
"${AS_USER[@]}" "$NGINX" -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf" &
PIDS+=($!)

"$VENV/bin/python" deploy/demo_client.py --balancer "http://127.0.0.1:$LB_PORT" \
    --replica "http://127.0.0.1:$PORT1" --replica "http://127.0.0.1:$PORT2" \
    --access-log "$WORK/nginx/access.log" --requests "$REQUESTS" \
    || { status=$?; for f in "$WORK"/replica*.log "$WORK/nginx/error.log"; do say "--- $f"; tail -20 "$f" >&2 || true; done; exit "$status"; }
