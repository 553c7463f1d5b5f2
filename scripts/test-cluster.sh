#!/usr/bin/env bash
# npm run test:cluster — the sweep scripts on real schedulers, on this machine (opt-in: not in npm test).
#
# 1. Installs Debian's parallel, slurm-wlm and munge when missing (needs root and apt; services the
#    packages would start are held back while installing).
# 2. Starts a one-node Slurm cluster on localhost: munged on a socket and slurmctld and slurmd on free
#    ports bound to 127.0.0.1, every file in a temporary folder, stopped and removed on exit, failure
#    and Ctrl-C included.
# 3. Submits configs/sweeps/slurm-array.sbatch (through slurm-submit.sh) with a small grid, waits for
#    the array, and checks with mnist-report that every point finished, with a result line in its log.
# 4. Runs configs/sweeps/grid.sh through GNU parallel with --sshlogin : (this machine), checks the same,
#    then that a rerun keeps every point and that a rerun with other settings is refused.
# Exits 1 on any missing or unfinished point, 2 when it cannot set up (no root, no apt).
#
# Environment: CLUSTER_TIMEOUT (seconds to wait for the array, default 900).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# the sweeps run from the repository, as a user would run them
cd "$ROOT"
say() { echo "test-cluster: $*" >&2; }
fail() {
  say "FAIL: $*"
  exit 1
}

# --- 1. packages ---------------------------------------------------------------------------------
missing=()
{ command -v parallel > /dev/null && parallel --version 2> /dev/null | grep -q "GNU parallel"; } || missing+=(parallel)
{ command -v slurmctld && command -v slurmd && command -v sbatch; } > /dev/null || missing+=(slurm-wlm)
command -v munged > /dev/null || missing+=(munge)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get > /dev/null; then
    say "needs ${missing[*]}: run as root on Debian/Ubuntu (apt-get), or install them first"
    exit 2
  fi
  say "installing ${missing[*]}"
  # Package scripts would start munge and slurm system-wide; a policy-rc.d that says no keeps them off.
  made_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  install_status=0
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null; } || install_status=$?
  [ -z "$made_policy" ] || rm -f /usr/sbin/policy-rc.d
  [ "$install_status" -eq 0 ] || { say "apt-get install ${missing[*]} failed (exit $install_status)"; exit 2; }
fi
[ "$(id -u)" -eq 0 ] || { say "slurmd must run as root to start jobs: run this as root"; exit 2; }

# --- 2. a one-node cluster in a temporary folder -------------------------------------------------
T="$(mktemp -d "${TMPDIR:-/tmp}/mnist-cluster.XXXXXX")"
pids=()
job=""
stop_pid() {
  local pid="$1" i
  kill -TERM "$pid" 2> /dev/null || return 0
  for i in $(seq 1 100); do
    kill -0 "$pid" 2> /dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2> /dev/null || true
}
cleanup() {
  local status=$? i
  trap - EXIT INT TERM
  set +e # clean up as much as possible, whatever fails
  if [ -n "$job" ] && [ -n "${SLURM_CONF:-}" ]; then
    # tasks still running would outlive slurmd: cancel them and wait (bounded) until they are gone
    scancel "$job" 2> /dev/null
    for i in $(seq 1 60); do
      [ -z "$(squeue -h -j "$job" 2> /dev/null)" ] && break
      sleep 0.5
    done
  fi
  if [ "$status" -ne 0 ] && [ -d "$T" ]; then
    for f in "$T"/log/slurmctld.log "$T"/log/slurmd.log "$T"/log/munged.log; do
      [ -s "$f" ] && { echo "--- last lines of $(basename "$f")" >&2; tail -n 15 "$f" >&2; }
    done
  fi
  # the daemons in reverse order of starting: slurmd, slurmctld, munged
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[i]}"; done
  rm -rf "$T"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -p "$T/log" "$T/state" "$T/spool" "$T/munge"
chmod 700 "$T/munge"

# Two free TCP ports on 127.0.0.1 (the kernel picks them, so clusters side by side do not collide).
read -r ctld_port slurmd_port < <(node -e '
  const net = require("net");
  const pick = () => new Promise((ok) => { const s = net.createServer().listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => ok(p)); }); });
  (async () => { const a = await pick(); let b = await pick(); while (b === a) b = await pick(); console.log(a, b); })();')
host="$(hostname -s)"
cpus="$(nproc)"
mem_mb=$(($(awk '/^MemTotal:/ { print $2 }' /proc/meminfo) / 1024 * 3 / 4))

dd if=/dev/urandom of="$T/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$T/munge/munge.key"
munged --foreground --force --key-file="$T/munge/munge.key" --socket="$T/munge/munge.socket" \
  --pid-file="$T/munge/munged.pid" --log-file="$T/log/munged.log" --seed-file="$T/munge/munged.seed" > "$T/log/munged.out" 2>&1 &
pids+=($!)

export SLURM_CONF="$T/slurm.conf"
cat > "$SLURM_CONF" << EOF
ClusterName=mnisttest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
# bind to this host name's address (127.0.0.1 here; the check below fails otherwise), not to every interface
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
AuthType=auth/munge
AuthInfo=socket=$T/munge/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
ReturnToService=2
MailProg=/bin/true
NodeName=mnistnode NodeAddr=127.0.0.1 NodeHostname=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=local Nodes=mnistnode Default=YES MaxTime=INFINITE State=UP
EOF

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND…: poll until COMMAND succeeds
  local limit="$1" what="$2" start=$SECONDS
  shift 2
  until "$@" > /dev/null 2>&1; do
    [ $((SECONDS - start)) -lt "$limit" ] || fail "timed out after ${limit} s waiting for $what"
    sleep 0.5
  done
}
wait_for 20 "munged" test -S "$T/munge/munge.socket"
slurmctld -D -f "$SLURM_CONF" > "$T/log/slurmctld.out" 2>&1 &
pids+=($!)
wait_for 30 "slurmctld" scontrol ping
slurmd -D -f "$SLURM_CONF" -N mnistnode > "$T/log/slurmd.out" 2>&1 &
pids+=($!)
node_idle() { [ "$(sinfo -h -n mnistnode -o %t)" = idle ]; }
wait_for 60 "the node to be idle (sinfo)" node_idle
say "Slurm is up: slurmctld on 127.0.0.1:$ctld_port, slurmd on 127.0.0.1:$slurmd_port, $cpus CPUs"

# Both daemons listen on 127.0.0.1 only: no listening socket on another address uses their ports.
listening_elsewhere() {
  local port hex
  for port in "$ctld_port" "$slurmd_port"; do
    hex="$(printf '%04X' "$port")"
    awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p && $2 !~ /^0100007F:/ { found = 1 } END { exit !found }' \
      /proc/net/tcp /proc/net/tcp6 && return 0
  done
  return 1
}
! listening_elsewhere || fail "slurmctld or slurmd listens on an address other than 127.0.0.1"

# --- the checks ------------------------------------------------------------------------------------
LRS="0.1 0.5" HIDDEN="20" BATCH="50 100"
export ITERS=100 SEED=1 TRAIN_FLAGS="--train-limit 2000 --test-limit 500"
points=()
for b in $BATCH; do for h in $HIDDEN; do for lr in $LRS; do points+=("lr-${lr}_h-${h}_b-${b}"); done; done; done

# check_sweep DIR: mnist-report lists every grid point as complete, and each log ends with its result
check_sweep() {
  local dir="$1" report p
  report="$(node bin/mnist-report.js "$dir" --json)" || fail "mnist-report $dir failed"
  node -e '
    const [dir, ...points] = process.argv.slice(1);
    const rows = JSON.parse(require("fs").readFileSync(0, "utf8")).runs;
    const status = new Map(rows.map((r) => [require("path").relative(dir, r.run), r.status]));
    const bad = points.filter((p) => status.get(p) !== "complete").map((p) => `${p}: ${status.get(p) ?? "missing"}`);
    if (bad.length) { console.error(`test-cluster: FAIL: ${dir}: ${bad.join(", ")}`); process.exit(1); }
    if (rows.length !== points.length) { console.error(`test-cluster: FAIL: ${dir}: ${rows.length} runs, expected ${points.length}`); process.exit(1); }
  ' "$dir" "${points[@]}" <<< "$report" || exit 1
  for p in "${points[@]}"; do
    grep -q "^complete: test " "$dir/$p.log" || fail "$dir/$p.log has no result line"
  done
  say "$dir: all ${#points[@]} points complete"
  node bin/mnist-report.js "$dir" >&2
}

# --- 3. the Slurm job array ------------------------------------------------------------------------
SLURM_SWEEP="$T/sweep-slurm"
say "\$ LRS=\"$LRS\" HIDDEN=\"$HIDDEN\" BATCH=\"$BATCH\" ITERS=$ITERS TRAIN_FLAGS=\"$TRAIN_FLAGS\" SWEEP_DIR=$SLURM_SWEEP configs/sweeps/slurm-submit.sh --parsable --mem=500M"
job="$(SWEEP_DIR="$SLURM_SWEEP" LRS="$LRS" HIDDEN="$HIDDEN" BATCH="$BATCH" configs/sweeps/slurm-submit.sh --parsable --mem=500M)"
job="${job%%;*}"
say "submitted job array $job (${#points[@]} tasks)"
array_done() { [ -z "$(squeue -h -j "$job" 2> /dev/null)" ]; }
wait_for "${CLUSTER_TIMEOUT:-900}" "job array $job to finish (squeue)" array_done
job_finished="$job"
job=""
for ((i = 0; i < ${#points[@]}; i++)); do
  log="$SLURM_SWEEP/slurm-${job_finished}_$i.log"
  [ -s "$log" ] || fail "no Slurm log $log"
  grep -q ": complete: test " "$log" || fail "$log: no result line: $(tail -n 3 "$log")"
done
say "$(basename "$log"): $(tail -n 1 "$log")"
check_sweep "$SLURM_SWEEP"

# --- 4. GNU parallel, on this machine (--sshlogin :) ------------------------------------------------
PAR_SWEEP="$T/sweep-parallel"
out="$T/grid.err"
say "\$ LRS=\"$LRS\" HIDDEN=\"$HIDDEN\" BATCH=\"$BATCH\" ITERS=$ITERS TRAIN_FLAGS=\"$TRAIN_FLAGS\" SWEEP_DIR=$PAR_SWEEP JOBS=2 PARALLEL_OPTS=\"--sshlogin :\" configs/sweeps/grid.sh"
SWEEP_DIR="$PAR_SWEEP" LRS="$LRS" HIDDEN="$HIDDEN" BATCH="$BATCH" JOBS=2 PARALLEL_OPTS="--sshlogin :" \
  configs/sweeps/grid.sh > "$T/grid.out" 2> "$out" || { cat "$out" >&2; fail "grid.sh failed"; }
head -n 1 "$out" >&2
grep -q "with GNU parallel" "$out" || fail "grid.sh did not use GNU parallel: $(head -n 1 "$out")"
check_sweep "$PAR_SWEEP"

# A rerun keeps every point; a rerun with other settings refuses to reuse them.
SWEEP_DIR="$PAR_SWEEP" LRS="$LRS" HIDDEN="$HIDDEN" BATCH="$BATCH" JOBS=2 PARALLEL_OPTS="--sshlogin :" \
  configs/sweeps/grid.sh > /dev/null 2> "$out" || { cat "$out" >&2; fail "grid.sh rerun failed"; }
[ "$(grep -c ": done already: complete:" "$out")" -eq "${#points[@]}" ] || { cat "$out" >&2; fail "the rerun did not keep every point"; }
status=0
SWEEP_DIR="$PAR_SWEEP" LRS="$LRS" HIDDEN="$HIDDEN" BATCH="$BATCH" JOBS=2 PARALLEL_OPTS="--sshlogin :" ITERS=50 \
  configs/sweeps/grid.sh > /dev/null 2> "$out" || status=$?
[ "$status" -ne 0 ] || fail "a rerun with ITERS=50 over ITERS=100 runs succeeded"
[ "$(grep -c "holds a run with other settings (--iters: recorded 100, requested 50)" "$out")" -eq "${#points[@]}" ] ||
  { cat "$out" >&2; fail "the rerun with other settings did not name them for every point"; }
say "reruns: kept when the settings match, refused when they differ"
say "PASS: Slurm job array and GNU parallel sweeps, ${#points[@]} points each"
