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
#   ON_MISMATCH, THREADS, CHECKPOINT_EVERY   as in train-point.sh
#
# A run folder is reused only when its config.json records the same settings: a complete run is
# kept, an interrupted one resumes from its checkpoint, and one with other settings (say, another
# ITERS) stops that point with an error naming the differences; ON_MISMATCH=new trains it into
# lr-LR-2 instead. Each run writes only its own folder and its log (<run>.log beside it, ending with
# a one-line result). A failed run is reported and the sweep goes on; the script then exits 1.
# Ctrl-C stops the sweep (exit 130) with the current run's checkpoint saved: rerun to resume it.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SWEEP_DIR="${SWEEP_DIR:-runs/sweep-lr}"
ITERS="${ITERS:-2000}"
SEED="${SEED:-1}"
read -r -a extra <<< "${TRAIN_FLAGS:-}"
if [ "$#" -gt 0 ]; then lrs=("$@"); else lrs=(0.01 0.05 0.1 0.5 1); fi

mkdir -p "$SWEEP_DIR"
failed=0
for lr in "${lrs[@]}"; do
  status=0
  "$HERE/train-point.sh" "$SWEEP_DIR/lr-$lr" --lr "$lr" --iters "$ITERS" --seed "$SEED" ${extra[@]+"${extra[@]}"} || status=$?
  # Ctrl-C stops the sweep, not just the point it reached
  [ "$status" -ne 130 ] || exit 130
  [ "$status" -eq 0 ] || failed=$((failed + 1))
done

node "$ROOT/bin/mnist-report.js" "$SWEEP_DIR" --plot "$SWEEP_DIR/overlay.svg"
[ "$failed" -eq 0 ] || { echo "$failed run(s) failed" >&2; exit 1; }
