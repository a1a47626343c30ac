#!/usr/bin/env bash
# bench/run.sh - `make bench`: the paper's claims measured side by side.
#
# On the fmnist preset for T in BENCH_TS (default 1 2 4 8):
#   1. training images/s, activation bytes and peak RSS of T-RevSNN in rev and
#      plain mode and of the LIF baseline, each in its own process (peak RSS
#      is per process), 2 threads, batch 64;
#   2. PyTorch running the same T-RevSNN (python3-torch); 1 and 2 are
#      interleaved in BENCH_REPEATS rounds of one timed burst each;
#   3. the same short training budget (BENCH_ACC_STEPS steps) for T-RevSNN and
#      the baseline, then BENCH_ACC_TEST test images through the event-driven
#      engine: accuracy, ACs, MACs, energy per image;
#   4. the engine beside the dense inference path on a trained checkpoint;
#   5. the HTTP server under load (sim bench-serve).
# Raw measurements go to bench/raw.jsonl; bench/report.py turns them into
# bench/results.json, bench/results.md (ratios against the baseline beside the
# paper's) and docs/img/bench.png. Environment: BENCH_STEPS (default 8),
# BENCH_REPEATS (5), BENCH_TS, BENCH_ACC_STEPS (120), BENCH_ACC_TEST (2000),
# BENCH_MODEL, BENCH_IMAGES (500).
set -euo pipefail
cd "$(dirname "$0")/.."
SIM=./bin/sim
steps=${BENCH_STEPS:-8}
repeats=${BENCH_REPEATS:-5}
Ts=${BENCH_TS:-"1 2 4 8"}
out_json=bench/results.json
out_md=bench/results.md

cpu=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
acc_steps=${BENCH_ACC_STEPS:-120}
acc_test=${BENCH_ACC_TEST:-2000}
raw=bench/raw.jsonl # every measurement, one JSON object per line, tagged
: > "$raw"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "machine: $cpu, $(nproc) cores; $($SIM --version | sed -n 2,3p | tr '\n' ' ')"
echo "{\"kind\": \"machine\", \"cpu\": \"$cpu\", \"cores\": $(nproc), \"date\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\", \"version\": \"$($SIM --version | sed -n 2,3p | tr '\n' ' ' | sed 's/"//g')\"}" >> "$raw"

# 1. training images/s and memory: T-RevSNN rev and plain, the LIF baseline
# and 2. PyTorch running the same T-RevSNN (plain autograd, the same batches).
# The machine's speed drifts over minutes, so the variants are interleaved:
# each round runs one timed burst of every variant at every T, and the report
# takes medians over rounds and ratios within a round.
have_torch=0
if /usr/bin/python3 -c "import torch, numpy" 2>/dev/null; then have_torch=1
else echo "python3-torch not installed: skipping the PyTorch reference"; fi
for r in $(seq 1 "$repeats"); do
  for T in $Ts; do
    for run in "trevsnn rev" "trevsnn plain" "lif bptt"; do
      set -- $run
      args="--model $1 --preset fmnist --T $T --batch 64 --threads 2 --steps $steps --repeats 1"
      [ "$1" = trevsnn ] && args="$args --mode $2"
      line=$($SIM bench-train $args)
      echo "{\"kind\": \"train\", \"round\": $r, \"variant\": \"$1-$2\", ${line#\{}" >> "$raw"
      echo "$line" | awk -v r="$r" -v T="$T" -v v="$1 $2" '{
        match($0, /"images_per_s": [0-9.]+/); ips = substr($0, RSTART + 16, RLENGTH - 16);
        match($0, /"activation_bytes": [0-9]+/); act = substr($0, RSTART + 20, RLENGTH - 20);
        match($0, /"peak_rss": [0-9]+/); rss = substr($0, RSTART + 12, RLENGTH - 12);
        printf "round %d T=%d %-13s %8.1f images/s  activations %7.1f MiB  peak RSS %7.1f MiB\n", r, T, v, ips, act / 1048576, rss / 1048576 }'
    done
    if [ $have_torch = 1 ]; then
      line=$(/usr/bin/python3 bench/torch_ref.py --T "$T" --batch 64 --threads 2 \
             --steps "$steps" --repeats 1)
      echo "{\"kind\": \"torch\", \"round\": $r, ${line#\{}" >> "$raw"
      echo "$line" | awk -v r="$r" -v T="$T" '{ match($0, /"images_per_s": [0-9.]+/);
        printf "round %d T=%d pytorch       %8.1f images/s (plain autograd, same batches)\n", r, T, substr($0, RSTART + 16, RLENGTH - 16) }'
    fi
  done
done

# 3. the same short training budget for T-RevSNN and the baseline at every T,
# then inference of the test images through the event-driven engine: accuracy,
# accumulates, MACs and energy per image at the trained firing rates. (Rev and
# plain modes compute identical gradients, so one T-RevSNN run serves both.)
for T in $Ts; do
  for m in trevsnn lif; do
    ck="$work/$m-T$T.h5"
    tr=$($SIM --train --model "$m" --T "$T" --epochs 1 --train-limit $((acc_steps * 64)) \
         --test-limit "$acc_test" --warmup 0.3 --lr 3e-3 --augment 0 --quiet --json --out "$ck")
    echo "{\"kind\": \"short_train\", \"model\": \"$m\", \"T\": $T, ${tr#\{}" >> "$raw"
    rj=$($SIM run --model "$ck" --images "$acc_test" --json --quiet)
    echo "{\"kind\": \"energy\", \"model_name\": \"$m\", \"T\": $T, ${rj#\{}" >> "$raw"
    echo "$rj" | awk -v T="$T" -v m="$m" '{
      match($0, /"accuracy": [0-9.]+/); a = substr($0, RSTART + 12, RLENGTH - 12);
      match($0, /"energy_uj_per_image": [0-9.]+/); e = substr($0, RSTART + 23, RLENGTH - 23);
      printf "T=%d %-8s short budget: engine accuracy %.2f%%, %.2f uJ per image\n", T, m, 100 * a, e }'
  done
done

# 4. the event-driven engine beside the dense inference path, same images, same
# run, on a fully trained checkpoint: BENCH_MODEL, else out/fmnist.h5, else the
# short-budget T=4 model of step 3
model=${BENCH_MODEL:-out/fmnist.h5}
if [ ! -f "$model" ]; then
  model=bench/quick.h5
  $SIM --train --epochs 1 --train-limit 12800 --warmup 0.3 --lr 3e-3 --augment 0 --quiet \
       --out "$model" > /dev/null
fi
rj=$($SIM run --model "$model" --images "${BENCH_IMAGES:-500}" --compare-dense --json --quiet)
echo "{\"kind\": \"engine\", \"checkpoint\": \"$model\", ${rj#\{}" >> "$raw"

# ---- issue 7: HTTP serving load test (sim bench-serve) -----------------------
# 2000 classify requests over 16 keep-alive loopback connections against an
# in-process `sim serve` with 2 worker threads, on the same model as the
# engine benchmark above; throughput and p50/p99 latency go to bench/serve.json
# (the lead folds them into results.md).
serve_json=$($SIM bench-serve --model "$model" --requests "${BENCH_SERVE_REQUESTS:-2000}" \
             --connections 16 --threads 2)
echo "$serve_json" > bench/serve.json
echo "{\"kind\": \"serve\", ${serve_json#\{}" >> "$raw"
echo "$serve_json" | awk '{ match($0, /"requests_per_s": [0-9.]+/); rps = substr($0, RSTART + 18, RLENGTH - 18);
  match($0, /"p50": [0-9.]+/); p50 = substr($0, RSTART + 7, RLENGTH - 7);
  match($0, /"p99": [0-9.]+/); p99 = substr($0, RSTART + 7, RLENGTH - 7);
  printf "serve: %.1f requests/s over 16 connections, latency p50 %.1f ms, p99 %.1f ms (bench/serve.json)\n", rps, p50, p99 }'
# ---- end of issue 7 section ---------------------------------------------------

/usr/bin/python3 bench/report.py "$raw" "$out_json" "$out_md" docs/img/bench.png
echo "wrote $out_json, $out_md and docs/img/bench.png"
