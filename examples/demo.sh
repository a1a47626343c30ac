#!/bin/sh
# demo.sh - the main job on the built-in default, run by `make demo`:
#
#   1. what the fmnist preset costs (parameters, MACs, memory per role);
#   2. train it on Fashion-MNIST for one epoch (about 2 minutes on 2 cores);
#   3. run 200 test images through the event-driven engine with a trace;
#   4. analyze the trace and the training log, write the plots;
#   5. print where everything is and the headline numbers.
#
# Everything goes to $OUT (default out/demo). SIM selects the binary.
set -eu

SIM=${SIM:-./bin/sim}
OUT=${OUT:-out/demo}
IMAGES=${IMAGES:-200}
mkdir -p "$OUT/plots"

step() { printf '\n== %s\n' "$*"; }

# a JSON number by key from a JSON file (first occurrence)
json_num() { grep -o "\"$1\": *[-0-9.eE+]*" "$2" | head -n 1 | sed 's/.*: *//'; }

step "the model: bin/sim info --preset fmnist"
"$SIM" info --preset fmnist | tee "$OUT/info.txt"

step "training one epoch on Fashion-MNIST (reversible backward, 2 threads)"
start=$(date +%s)
"$SIM" --train --preset fmnist --epochs 1 --lr 4e-3 --warmup 0.15 --augment 0 \
    --log "$OUT/train.jsonl" --out "$OUT/model.h5" --json >"$OUT/train.json"
train_s=$(($(date +%s) - start))
cat "$OUT/train.json"

step "event-driven run of $IMAGES test images with a SONATA trace"
"$SIM" run --model "$OUT/model.h5" --images "$IMAGES" --trace "$OUT/trace.h5" \
    --json >"$OUT/run.json"
"$SIM" analyze "$OUT/trace.h5" --plot-dir "$OUT/plots" >"$OUT/analyze.txt"
sed -n '1,/^$/p;/^populations/,/^$/p' "$OUT/analyze.txt"
echo "(projections, energy per image and statistics: $OUT/analyze.txt)"

step "training curves"
"$SIM" analyze --log "$OUT/train.jsonl" --plot-dir "$OUT/plots" >"$OUT/analyze-log.txt"
cat "$OUT/analyze-log.txt"

acc=$(sed -n 's/.*"test_acc": \[\([^]]*\)\].*/\1/p' "$OUT/train.json" | awk -F', ' '{print $NF * 100}')
eng_acc=$(json_num accuracy "$OUT/run.json")
spikes=$(json_num spikes_per_image "$OUT/run.json")
energy=$(json_num energy_uj_per_image "$OUT/run.json")
energy_lit=$(json_num energy_lit_uj_per_image "$OUT/run.json")
ms=$(sed -n 's/.*"ms_per_image": {"median": \([0-9.]*\).*/\1/p' "$OUT/run.json")
acts=$(sed -n 's/.*"activations": {"current": \([0-9]*\).*/\1/p' "$OUT/train.jsonl" | tail -n 1)
rss=$(json_num peak_rss "$OUT/train.jsonl")

step "headline"
awk -v acc="$acc" -v s="$train_s" -v eacc="$eng_acc" -v sp="$spikes" -v e="$energy" \
    -v el="$energy_lit" -v ms="$ms" -v a="$acts" -v r="$rss" -v n="$IMAGES" 'BEGIN {
    printf "test accuracy (10,000 images, dense)   %.2f%% after one epoch, trained in %d s\n", acc, s
    printf "event-driven engine, %d images        accuracy %.2f%%, %.0f spikes/image, %.1f ms/image\n", n, 100 * eacc, sp, ms
    printf "energy per image                       %.1f uJ counted (literature estimate %.1f uJ)\n", e, el
    printf "training memory (batch 64, rev mode)   activations %.1f MiB, peak RSS %.1f MiB\n", a / 1048576, r / 1048576
}'
cat <<EOF

outputs:
  $OUT/model.h5        checkpoint (h5py-readable, docs/checkpoint.md)
  $OUT/train.jsonl     training log, one JSON object per epoch
  $OUT/trace.h5        SONATA spike trace of the engine run (README: traces)
  $OUT/run.json        engine counters per population and projection
  $OUT/plots/          raster, firing-rate heatmap, energy breakdown, training curves (PNG and SVG)
EOF
