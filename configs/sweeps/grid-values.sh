# The grid's default values, shared by grid.sh, slurm-submit.sh and slurm-array.sbatch (sourced, not run).
# Each can be replaced from the environment (space-separated values).
LRS="${LRS:-0.05 0.1 0.5}"
HIDDEN="${HIDDEN:-50 100 200}"
BATCH="${BATCH:-50 100 200}"
