#!/usr/bin/env bash
# One point of a grid sweep: configs/sweeps/run-one.sh LR HIDDEN_SIZE BATCH_SIZE
# Used by grid.sh (GNU parallel or xargs) and by the Slurm job array (slurm-array.sbatch).
#
# Environment: SWEEP_DIR (default runs/sweep-grid), ITERS (default 2000), SEED (default 1),
# TRAIN_FLAGS (more mnist-train flags). Writes only SWEEP_DIR/lr-LR_h-HIDDEN_b-BATCH/ and its
# .log; a folder that already holds a model.json is skipped, so a rerun resumes the sweep.
set -euo pipefail
if [ "$#" -ne 3 ]; then
  echo "usage: $0 LR HIDDEN_SIZE BATCH_SIZE" >&2
  exit 2
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
lr="$1" hidden="$2" batch="$3"
SWEEP_DIR="${SWEEP_DIR:-runs/sweep-grid}"
read -r -a extra <<< "${TRAIN_FLAGS:-}"
run="$SWEEP_DIR/lr-${lr}_h-${hidden}_b-${batch}"
mkdir -p "$SWEEP_DIR"
if [ -f "$run/model.json" ]; then
  echo "$run: done already" >&2
  exit 0
fi
echo "$run: training" >&2
if node "$ROOT/bin/mnist-train.js" --lr "$lr" --hidden-size "$hidden" --batch-size "$batch" \
    --iters "${ITERS:-2000}" --seed "${SEED:-1}" ${extra[@]+"${extra[@]}"} --out "$run" --force --quiet 2> "$run.log"; then
  echo "$run: $(node -e 'const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(`test ${s.testAccuracy}, ${s.wallTimeS.toFixed(1)} s`)' "$run/summary.json" 2>/dev/null || echo done)" >&2
else
  echo "$run: FAILED (see $run.log): $(tail -n 1 "$run.log")" >&2
  exit 1
fi
