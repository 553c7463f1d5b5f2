#!/usr/bin/env bash
# Grid sweep over lr × hidden size × batch size, several runs at a time: GNU parallel when it is
# installed, else xargs -P. One run folder per point (see run-one.sh), then the ranked table.
#
#   configs/sweeps/grid.sh                          # 3 × 3 × 3 = 27 runs, one per core
#   JOBS=2 LRS="0.1 0.5" HIDDEN="50 100" BATCH="100" configs/sweeps/grid.sh
#
# Environment:
#   LRS, HIDDEN, BATCH   the values (space-separated; defaults in grid-values.sh)
#   JOBS                 runs at once (default: the number of cores). Each run uses one core (THREADS=1).
#   SWEEP_DIR, ITERS, SEED, TRAIN_FLAGS, ON_MISMATCH, THREADS, CHECKPOINT_EVERY   as in run-one.sh
#   PARALLEL_OPTS        extra GNU parallel options, e.g. several machines:
#       PARALLEL_OPTS="--sshlogin 4/:,8/alice@node1,8/alice@node2" configs/sweeps/grid.sh
#     ':' is this machine and N/ its job count. Every machine needs the repository (npm install done)
#     at the same path, and SWEEP_DIR must be on a filesystem they share (NFS, or use an absolute
#     path there); parallel runs each command over ssh, from the same working directory.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=grid-values.sh
. "$HERE/grid-values.sh"
export SWEEP_DIR="${SWEEP_DIR:-runs/sweep-grid}" ITERS="${ITERS:-2000}" SEED="${SEED:-1}" TRAIN_FLAGS="${TRAIN_FLAGS:-}"
export ON_MISMATCH="${ON_MISMATCH:-error}" THREADS="${THREADS:-1}" CHECKPOINT_EVERY="${CHECKPOINT_EVERY:-500}"
read -r -a lrs <<< "$LRS"
read -r -a hidden <<< "$HIDDEN"
read -r -a batch <<< "$BATCH"
JOBS="${JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}"
points=$((${#lrs[@]} * ${#hidden[@]} * ${#batch[@]}))
mkdir -p "$SWEEP_DIR"

status=0
if command -v parallel > /dev/null && parallel --version 2> /dev/null | grep -q "GNU parallel"; then
  read -r -a popts <<< "${PARALLEL_OPTS:-}"
  echo "grid.sh: $points points with GNU parallel, $JOBS at a time${PARALLEL_OPTS:+ ($PARALLEL_OPTS)}" >&2
  parallel --will-cite -j "$JOBS" --workdir . \
    --env SWEEP_DIR --env ITERS --env SEED --env TRAIN_FLAGS --env ON_MISMATCH --env THREADS --env CHECKPOINT_EVERY \
    ${popts[@]+"${popts[@]}"} "$HERE/run-one.sh" {1} {2} {3} ::: "${lrs[@]}" ::: "${hidden[@]}" ::: "${batch[@]}" || status=1
else
  [ -z "${PARALLEL_OPTS:-}" ] || echo "grid.sh: GNU parallel is not installed; PARALLEL_OPTS ignored, running here with xargs -P $JOBS" >&2
  echo "grid.sh: $points points with xargs -P, $JOBS at a time" >&2
  for lr in "${lrs[@]}"; do for h in "${hidden[@]}"; do for b in "${batch[@]}"; do
    printf '%s %s %s\n' "$lr" "$h" "$b"
  done; done; done | xargs -P "$JOBS" -n 3 "$HERE/run-one.sh" || status=1
fi

node "$ROOT/bin/mnist-report.js" "$SWEEP_DIR" --plot "$SWEEP_DIR/overlay.svg"
exit "$status"
