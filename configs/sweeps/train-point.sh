#!/usr/bin/env bash
# One sweep point: configs/sweeps/train-point.sh RUN_DIR [mnist-train flag…]
# Used by run-one.sh (grid points) and lr-sweep.sh.
#
# The folder is reused only when its config.json records these same settings: complete (or
# diverged) means done, a checkpoint means the run resumes from it (mnist-train --resume). A
# folder holding a run with other settings stops the point with an error naming them, unless
# ON_MISMATCH=new, which trains the point into RUN_DIR-2 (or -3, …) instead.
#
# Environment: ON_MISMATCH (error or new; default error), THREADS (threads per run, default 1: a
# sweep runs one point per core), CHECKPOINT_EVERY (iterations between checkpoints, default 500, so
# even a killed run resumes; 0: only on SIGINT/SIGTERM).
# Log: RUN_DIR.log beside the folder holds mnist-train's errors, then one line with the outcome.
# Exit 0 when the point has a result (a diverged run is one: the report shows it), 130 when it was
# interrupted (its checkpoint saved), else 1 (2: usage).
set -euo pipefail
if [ "$#" -lt 1 ] || [ -z "$1" ]; then
  echo "usage: $0 RUN_DIR [mnist-train flag…]" >&2
  exit 2
fi
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
run="$1"
shift
threads="${THREADS:-1}"
every=()
[ "${CHECKPOINT_EVERY:-500}" = 0 ] || every=(--checkpoint-every "${CHECKPOINT_EVERY:-500}")

mkdir -p "$(dirname "$run")"
plan="$(node "$HERE/sweep-point.js" plan "$run" --on-mismatch "${ON_MISMATCH:-error}" -- "$@")" || exit $?
action="${plan%%$'\t'*}"
run="${plan#*$'\t'}"
result() { node "$HERE/sweep-point.js" result "$run"; }

case "$action" in
  done | diverged)
    echo "$run: done already: $(result)" >&2
    exit 0
    ;;
  resume)
    echo "$run: resuming from its checkpoint" >&2
    echo "resuming from checkpoint.json" >> "$run.log"
    status=0
    node "$ROOT/bin/mnist-train.js" --resume "$run" --threads "$threads" ${every[@]+"${every[@]}"} --quiet 2>> "$run.log" || status=$?
    ;;
  fresh)
    echo "$run: training" >&2
    status=0
    node "$ROOT/bin/mnist-train.js" "$@" --threads "$threads" ${every[@]+"${every[@]}"} --out "$run" --force --quiet 2> "$run.log" || status=$?
    ;;
  *)
    echo "$0: unexpected plan '$plan'" >&2
    exit 1
    ;;
esac

# 0: complete; 3: diverged (a result too, recorded in loss.csv)
if [ "$status" -eq 0 ] || [ "$status" -eq 3 ]; then
  line="$(result)"
  echo "$line" >> "$run.log"
  echo "$run: $line" >&2
  exit 0
fi
if [ "$status" -eq 130 ]; then
  # Ctrl-C or SIGTERM (a Slurm time limit): mnist-train saved a checkpoint; the sweep stops here
  echo "interrupted: checkpoint.json written; a rerun of the sweep resumes it" >> "$run.log"
  echo "$run: interrupted: checkpoint.json written; a rerun of the sweep resumes it" >&2
  exit 130
fi
echo "$run: FAILED (exit $status, see $run.log): $(tail -n 1 "$run.log")" >&2
exit 1
