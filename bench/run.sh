#!/usr/bin/env bash
# bench/run.sh - the training benchmark behind `make bench`.
#
# For T in {1, 2, 4, 8} x {rev, plain} on the fmnist preset at batch 64 and
# 2 threads, runs `bin/sim bench-train` in its own process (peak RSS is per
# process) and writes bench/results.json and bench/results.md. Images/s is
# the median of timed bursts; the BLAS GFLOP/s is measured in the same run.
# Environment: BENCH_STEPS (default 8), BENCH_REPEATS (default 5), BENCH_TS.
set -euo pipefail
cd "$(dirname "$0")/.."
SIM=./bin/sim
steps=${BENCH_STEPS:-8}
repeats=${BENCH_REPEATS:-5}
Ts=${BENCH_TS:-"1 2 4 8"}
out_json=bench/results.json
out_md=bench/results.md
tmp=$(mktemp)

cpu=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
echo "machine: $cpu, $(nproc) cores; $($SIM --version | sed -n 2p)"
for T in $Ts; do
  for mode in rev plain; do
    line=$($SIM bench-train --preset fmnist --T "$T" --mode "$mode" --batch 64 --threads 2 \
           --steps "$steps" --repeats "$repeats")
    echo "$line" >> "$tmp"
    echo "$line" | awk -v T="$T" -v mode="$mode" '{
      match($0, /"images_per_s": [0-9.]+/); ips = substr($0, RSTART + 16, RLENGTH - 16);
      match($0, /"activation_bytes": [0-9]+/); act = substr($0, RSTART + 20, RLENGTH - 20);
      match($0, /"peak_rss": [0-9]+/); rss = substr($0, RSTART + 12, RLENGTH - 12);
      printf "T=%d %-5s %8.1f images/s  activations %7.1f MiB  peak RSS %7.1f MiB\n", T, mode, ips, act / 1048576, rss / 1048576 }'
  done
done

# PyTorch running the same model (plain autograd, the same batches) in the
# same run, when Debian's python3-torch is installed: the only fair ratio on
# a machine whose speed drifts.
torch_tmp=$(mktemp)
trap 'rm -f "$tmp" "$torch_tmp"' EXIT
if /usr/bin/python3 -c "import torch, numpy" 2>/dev/null; then
  for T in $Ts; do
    line=$(/usr/bin/python3 bench/torch_ref.py --T "$T" --batch 64 --threads 2 \
           --steps "$steps" --repeats "$repeats")
    echo "$line" >> "$torch_tmp"
    echo "$line" | awk -v T="$T" '{ match($0, /"images_per_s": [0-9.]+/);
      printf "T=%d torch %8.1f images/s (PyTorch plain autograd, same batches)\n", T, substr($0, RSTART + 16, RLENGTH - 16) }'
  done
else
  echo "python3-torch not installed: skipping the PyTorch reference (apt-get install python3-torch)"
fi

{
  echo "{\"date\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\", \"machine\": \"$cpu\", \"cores\": $(nproc),"
  echo " \"command\": \"make bench\", \"steps\": $steps, \"repeats\": $repeats, \"runs\": ["
  sed '$!s/$/,/' "$tmp"
  echo "], \"pytorch\": ["
  sed '$!s/$/,/' "$torch_tmp"
  echo "]}"
} > "$out_json"

awk -v date="$(date -u +%Y-%m-%d)" -v cpu="$cpu" '
function field(s, key,   re, v) {
  re = "\"" key "\": (\"[^\"]*|[^,}]+)"; if (!match(s, re)) return "";
  v = substr(s, RSTART, RLENGTH); sub(/^[^:]*: "?/, "", v); sub(/"$/, "", v); return v }
{ T[NR] = field($0, "T"); M[NR] = field($0, "mode"); ips[NR] = field($0, "images_per_s");
  act[NR] = field($0, "activation_bytes"); rss[NR] = field($0, "peak_rss");
  blas = field($0, "blas"); gf[NR] = field($0, "blas_gflops_threads");
  if (M[NR] == "rev" && T[NR] == 1) act1 = act[NR]; key[T[NR] " " M[NR]] = NR }
END {
  print "# Training benchmark (fmnist preset, batch 64, 2 threads, float)\n"
  printf "`make bench` on %s, %s. BLAS: %s.\n", date, cpu, blas
  print "Images/s is the median of timed bursts of training steps (forward + backward) on real"
  print "Fashion-MNIST batches; activation bytes are the arena the mode allocates.\n"
  print "| T | mode | images/s | rev time / plain time | activation MiB | activations vs rev T=1 | peak RSS MiB | sgemm GFLOP/s, 1 thread (same process) |"
  print "|---|---|---|---|---|---|---|---|"
  for (i = 1; i <= NR; i++) {
    ratio = "";
    if (M[i] == "rev" && (T[i] " plain") in key) ratio = sprintf("%.2f", ips[key[T[i] " plain"]] / ips[i]);
    printf "| %d | %s | %.1f | %s | %.1f | %.2fx | %.1f | %.1f |\n", T[i], M[i], ips[i], ratio,
           act[i] / 1048576, act[i] / act1, rss[i] / 1048576, gf[i] }
}' "$tmp" > "$out_md"
if [ -s "$torch_tmp" ]; then
  awk 'FNR == NR { match($0, /"T": [0-9]+/); t = substr($0, RSTART + 5, RLENGTH - 5);
                   match($0, /"images_per_s": [0-9.]+/); pt[t] = substr($0, RSTART + 16, RLENGTH - 16);
                   match($0, /"torch": "[^"]*"/); ver = substr($0, RSTART + 10, RLENGTH - 11); next }
       { match($0, /"T": [0-9]+/); t = substr($0, RSTART + 5, RLENGTH - 5);
         match($0, /"mode": "[a-z]+"/); mode = substr($0, RSTART + 9, RLENGTH - 10);
         match($0, /"images_per_s": [0-9.]+/); ips = substr($0, RSTART + 16, RLENGTH - 16);
         if (mode == "rev") row[t] = sprintf("| %d | %.1f | %.1f | %.2fx |", t, ips, pt[t], ips / pt[t]) }
       END { printf "\n## Against PyTorch %s (plain autograd, 2 threads, same batches, same run)\n\n", ver;
             print "| T | T-RevSNN rev images/s | PyTorch images/s | speed-up |"; print "|---|---|---|---|";
             for (t = 1; t <= 64; t++) if (t in row) print row[t] }' "$torch_tmp" "$tmp" >> "$out_md"
fi
# The event-driven engine beside the dense inference path, same images, same
# run, on a trained checkpoint (real firing rates): BENCH_MODEL, else
# out/fmnist.h5, else a quick one-epoch model trained here.
model=${BENCH_MODEL:-out/fmnist.h5}
if [ ! -f "$model" ]; then
  model=bench/quick.h5
  echo "no trained checkpoint: training $model for the engine benchmark (1 epoch, 12800 images)"
  $SIM --train --epochs 1 --train-limit 12800 --warmup 0.3 --lr 3e-3 --augment 0 --quiet \
       --out "$model" > /dev/null
fi
run_json=$($SIM run --model "$model" --images "${BENCH_IMAGES:-500}" --compare-dense --json --quiet)
# python3 comes with the bench's Debian packages (python3-numpy)
/usr/bin/python3 - "$run_json" "$model" "$out_json" "$out_md" <<'PY'
import json, sys
r, model, out_json, out_md = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ev_ms = r["ms_per_image"]["median"]
line = ("engine: %.3f ms/image at batch 1 (dense path %.3f ms), %.0f images/s (dense at batch 64: "
        "%.0f images/s), %.2f G AC/s, accuracy %.4f on %d images, same class as dense on %d/%d, "
        "turn-off spikes %d vs dense %d" %
        (ev_ms, r["dense_ms_per_image_batch1"], 1e3 / ev_ms, r["dense_images_per_s_batch64"],
         r["acs_per_image"] * 1e3 / ev_ms / 1e9, r["accuracy"], r["images"], r["dense_same_class"],
         r["images"], r["engine_turnoff_spikes"], r["dense_turnoff_spikes"]))
print(line)
with open(out_md, "a") as f:
    f.write("\n## Event-driven engine (`sim run --compare-dense`, %s, 1 thread, same run)\n\n%s\n"
            % (model, line))
d = json.load(open(out_json))
d["engine"] = r
json.dump(d, open(out_json, "w"), indent=1)
PY
echo "wrote $out_json and $out_md"

# ---- issue 7: HTTP serving load test (sim bench-serve) -----------------------
# 2000 classify requests over 16 keep-alive loopback connections against an
# in-process `sim serve` with 2 worker threads, on the same model as the
# engine benchmark above; throughput and p50/p99 latency go to bench/serve.json
# (the lead folds them into results.md).
serve_json=$($SIM bench-serve --model "$model" --requests "${BENCH_SERVE_REQUESTS:-2000}" \
             --connections 16 --threads 2)
echo "$serve_json" > bench/serve.json
echo "$serve_json" | awk '{ match($0, /"requests_per_s": [0-9.]+/); rps = substr($0, RSTART + 18, RLENGTH - 18);
  match($0, /"p50": [0-9.]+/); p50 = substr($0, RSTART + 7, RLENGTH - 7);
  match($0, /"p99": [0-9.]+/); p99 = substr($0, RSTART + 7, RLENGTH - 7);
  printf "serve: %.1f requests/s over 16 connections, latency p50 %.1f ms, p99 %.1f ms (bench/serve.json)\n", rps, p50, p99 }'
# ---- end of issue 7 section ---------------------------------------------------
