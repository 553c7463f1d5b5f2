#!/usr/bin/env bash
# Submit the grid as a Slurm job array: configs/sweeps/slurm-submit.sh [sbatch option…]
#
#   configs/sweeps/slurm-submit.sh                                  # the 27-point default grid
#   LRS="0.1 0.5" HIDDEN="50" BATCH="100" ITERS=600 configs/sweeps/slurm-submit.sh --parsable
#
# Sizes --array to the grid (LRS × HIDDEN × BATCH, at most MAX_RUNNING tasks at a time, default 8),
# creates SWEEP_DIR before sbatch needs it (each task's log is SWEEP_DIR/slurm-JOB_TASK.log), and
# makes the tasks run in this repository whatever the current folder. Other settings as in run-one.sh;
# sbatch options given here come last, so they override these.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=grid-values.sh
. "$HERE/grid-values.sh"
read -r -a lrs <<< "$LRS"
read -r -a hidden <<< "$HIDDEN"
read -r -a batch <<< "$BATCH"
n=$((${#lrs[@]} * ${#hidden[@]} * ${#batch[@]}))
if [ "$n" -eq 0 ]; then
  echo "slurm-submit.sh: LRS, HIDDEN and BATCH must each hold at least one value" >&2
  exit 2
fi
SWEEP_DIR="${SWEEP_DIR:-runs/sweep-grid}"
mkdir -p "$SWEEP_DIR"
# the tasks start in the repository: a relative SWEEP_DIR would land there instead of here
SWEEP_DIR="$(cd "$SWEEP_DIR" && pwd)"
MNIST_TS_ROOT="$(cd "$HERE/../.." && pwd)"
export LRS HIDDEN BATCH SWEEP_DIR MNIST_TS_ROOT
exec sbatch --array="0-$((n - 1))%${MAX_RUNNING:-8}" --output="$SWEEP_DIR/slurm-%A_%a.log" "$@" "$HERE/slurm-array.sbatch"
