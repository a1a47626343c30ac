#!/usr/bin/env bash
# tests/browser/run.sh - the page of `sim serve` in headless Chromium
# (`make browser-test`; not part of `make check`).
#
# Starts bin/sim serve on a free loopback port with a model (the argument or
# BROWSER_MODEL, else out/fmnist.h5, else a random-weight model written by a
# one-step training run), loads /?selftest=1 - the page then classifies its
# built-in sample (the first Fashion-MNIST test image, an ankle boot) - and
# checks the DOM after the scripts ran: the selftest marker, a prediction,
# the logits bars and no error. Saves a screenshot to out/browser-test.png.
set -euo pipefail
cd "$(dirname "$0")/../.."
SIM=${SIM_BIN:-./bin/sim}
model=${1:-${BROWSER_MODEL:-}}
work=$(mktemp -d /tmp/browser-test.XXXXXX)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "browser-test: chromium not found (make browser-test installs Debian's chromium)" >&2
  exit 1
fi
if [ -z "$model" ]; then
  if [ -f out/fmnist.h5 ]; then
    model=out/fmnist.h5
  else
    model=$work/random.h5
    echo "browser-test: no trained model; writing a near-random one ($model, one training step)"
    "$SIM" --train --epochs 1 --batch 16 --train-limit 16 --test-limit 16 --max-steps 1 --quiet \
      --out "$model" > /dev/null
  fi
fi

# port 0: the server picks a free port and prints it
"$SIM" serve --model "$model" --listen 127.0.0.1:0 --threads 1 2> "$work/serve.log" &
server_pid=$!
port=""
for _ in $(seq 100); do
  port=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/serve.log" 2>/dev/null | grep -o '[0-9]*$' || true)
  [ -n "$port" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { echo "browser-test: the server did not start" >&2; cat "$work/serve.log" >&2; exit 1; }
url="http://127.0.0.1:$port/?selftest=1"
echo "browser-test: $model served at $url"

# --no-sandbox: Chromium refuses to run as root otherwise (CI containers)
flags=(--headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run
       --user-data-dir="$work/profile" --window-size=1280,900 --virtual-time-budget=20000)
timeout 120 "$browser" "${flags[@]}" --dump-dom "$url" > "$work/dom.html" 2> "$work/chromium.log" || {
  echo "browser-test: chromium failed:" >&2; tail -20 "$work/chromium.log" >&2; exit 1; }

fail=0
check() { if grep -q "$1" "$work/dom.html"; then echo "  ok: $2"; else echo "  FAILED: $2" >&2; fail=1; fi; }
check 'data-selftest="done"' "the self-test classified its sample"
check '<div id="pred">[^<]*(class [0-9]*)</div>' "a prediction is shown"
check 'class="bar top"' "the logits bar chart is drawn"
check '<div id="err"></div>' "no error is shown"
check 'populations, E_MAC' "the model information is shown"
pred=$(grep -o '<div id="pred">[^<]*</div>' "$work/dom.html" | sed 's/<[^>]*>//g' || true)
echo "  prediction: ${pred:-none}"
if [ "$model" = out/fmnist.h5 ] && ! echo "$pred" | grep -q "Ankle boot"; then
  echo "  FAILED: out/fmnist.h5 should call the sample an ankle boot" >&2
  fail=1
fi

mkdir -p out
timeout 120 "$browser" "${flags[@]}" --screenshot="$work/shot.png" "$url" > /dev/null 2>> "$work/chromium.log" || true
if [ -s "$work/shot.png" ]; then
  cp "$work/shot.png" out/browser-test.png
  echo "  screenshot: out/browser-test.png"
else
  echo "  FAILED: no screenshot" >&2
  fail=1
fi

# the server stops cleanly on SIGTERM
kill -TERM "$server_pid"
if wait "$server_pid"; then echo "  ok: the server exited cleanly on SIGTERM"; else echo "  FAILED: server exit status $?" >&2; fail=1; fi
server_pid=""
if [ "$fail" -ne 0 ]; then
  echo "browser-test: FAILED (DOM kept in out/browser-test.html)" >&2
  cp "$work/dom.html" out/browser-test.html
  exit 1
fi
echo "browser-test: passed"
