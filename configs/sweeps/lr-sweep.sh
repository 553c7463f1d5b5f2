#!/usr/bin/env bash
# Learning-rate sweep: a plain bash loop, one run folder per value, then a table ranked by test accuracy.
#
#   configs/sweeps/lr-sweep.sh                 # lr 0.01 0.05 0.1 0.5 1, 2000 iterations each
#   configs/sweeps/lr-sweep.sh 0.1 0.5         # just these values
#   ITERS=300 TRAIN_FLAGS="--train-limit 5000 --test-limit 1000" configs/sweeps/lr-sweep.sh 0.1 1
#
# Environment:
#   SWEEP_DIR    where the run folders go (default runs/sweep-lr, relative to the current folder)
#   ITERS        iterations per run (default 2000)
#   SEED         the same seed for every run, so they differ only by lr (default 1)
#   TRAIN_FLAGS  more mnist-train flags for every run (e.g. "--hidden-size 100 --batch-size 200")
#
# A run folder that already holds a model.json is kept (rerunning the script resumes a sweep); an
# incomplete one is trained again. Each run writes only its own folder and its own log file
# (<run>.log beside it). A failed run is reported and the sweep goes on; the script then exits 1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SWEEP_DIR="${SWEEP_DIR:-runs/sweep-lr}"
ITERS="${ITERS:-2000}"
SEED="${SEED:-1}"
read -r -a extra <<< "${TRAIN_FLAGS:-}"
if [ "$#" -gt 0 ]; then lrs=("$@"); else lrs=(0.01 0.05 0.1 0.5 1); fi

mkdir -p "$SWEEP_DIR"
failed=0
for lr in "${lrs[@]}"; do
  run="$SWEEP_DIR/lr-$lr"
  if [ -f "$run/model.json" ]; then
    echo "lr=$lr: done already ($run)" >&2
    continue
  fi
  echo "lr=$lr: training → $run" >&2
  if ! node "$ROOT/bin/mnist-train.js" --lr "$lr" --iters "$ITERS" --seed "$SEED" ${extra[@]+"${extra[@]}"} \
      --out "$run" --force --quiet 2> "$run.log"; then
    echo "lr=$lr: FAILED (see $run.log): $(tail -n 1 "$run.log")" >&2
    failed=$((failed + 1))
  fi
done

node "$ROOT/bin/mnist-report.js" "$SWEEP_DIR" --plot "$SWEEP_DIR/overlay.svg"
[ "$failed" -eq 0 ] || { echo "$failed run(s) failed" >&2; exit 1; }
