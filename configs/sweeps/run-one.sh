#!/usr/bin/env bash
# One point of a grid sweep: configs/sweeps/run-one.sh LR HIDDEN_SIZE BATCH_SIZE
# Used by grid.sh (GNU parallel or xargs) and by the Slurm job array (slurm-array.sbatch).
#
# Environment: SWEEP_DIR (default runs/sweep-grid), ITERS (default 2000), SEED (default 1),
# TRAIN_FLAGS (more mnist-train flags), and train-point.sh's ON_MISMATCH, THREADS, CHECKPOINT_EVERY.
# Writes only SWEEP_DIR/lr-LR_h-HIDDEN_b-BATCH/ and its .log. A folder whose config.json records
# these settings is kept (done) or resumed; one with other settings is an error (see train-point.sh).
set -euo pipefail
if [ "$#" -ne 3 ]; then
  echo "usage: $0 LR HIDDEN_SIZE BATCH_SIZE" >&2
  exit 2
fi
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
lr="$1" hidden="$2" batch="$3"
SWEEP_DIR="${SWEEP_DIR:-runs/sweep-grid}"
read -r -a extra <<< "${TRAIN_FLAGS:-}"
exec "$HERE/train-point.sh" "$SWEEP_DIR/lr-${lr}_h-${hidden}_b-${batch}" \
  --lr "$lr" --hidden-size "$hidden" --batch-size "$batch" --iters "${ITERS:-2000}" --seed "${SEED:-1}" ${extra[@]+"${extra[@]}"}
