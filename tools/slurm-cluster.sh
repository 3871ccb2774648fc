#!/usr/bin/env bash
# A real one-node Slurm cluster for the tests, private to this checkout: configuration, munge key and socket, state,
# logs and PID files all live in .slurm/ (nothing in /etc/slurm or /run/munge is used), and its ports derive from the
# checkout's path, so several checkouts on one machine each run their own cluster.
#   tools/slurm-cluster.sh start    install Debian's Slurm and munge when missing, start munged, slurmctld and slurmd,
#                                   wait until the node is idle; prints SLURM_CONF=<path>, which clients need
#   tools/slurm-cluster.sh stop     cancel every job, end the three daemons by their PIDs
#   tools/slurm-cluster.sh status   prints "up" or "down" (exit 0 when up)
# Accounting is off, so `sacct` does not work; finished jobs and their exit codes are logged to .slurm/jobcomp.log.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$root/.slurm"
export SLURM_CONF="$dir/slurm.conf"
export PATH="$PATH:/usr/sbin:/sbin"
# Slurm takes the node's name from the short host name.
host=$(uname -n)
host=${host%%.*}
daemons=(munged slurmctld slurmd)

fail() { echo "slurm-cluster: error: $1" >&2; exit 1; }

# Why a daemon stopped, from its log's last fatal line, for the one-line error.
fatal_reason() {
  local line
  line=$(grep -h -i 'fatal' "$dir/$1.log" 2>/dev/null | tail -1)
  [[ -n "$line" ]] && echo " (${line#*: })"
}

# A process that exists and is not a zombie (a daemon that died as this script's child stays one until we exit).
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) && [[ "${stat##*) }" != Z* ]]
}

# The PID of a daemon of this cluster, if it runs (its PID file names a live process of that name).
running_pid() {
  local pid
  pid=$(cat "$dir/$1.pid" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] && alive "$pid" && [[ "$(cat "/proc/$pid/comm")" == "$1" ]] && echo "$pid"
}

node_state() { timeout 10 sinfo --noheader --nodes="$host" --format=%T 2>/dev/null; }

healthy() {
  local d
  for d in "${daemons[@]}"; do running_pid "$d" >/dev/null || return 1; done
  [[ "$(node_state)" =~ ^(idle|mixed|allocated|completing)$ ]]
}

install_packages() {
  local tool missing=0
  for tool in slurmctld slurmd sbatch munged mungekey; do command -v "$tool" >/dev/null || missing=1; done
  ((missing)) || return 0
  echo "slurm-cluster: installing slurmctld slurmd slurm-client munge (Debian)" >&2
  local apt=(apt-get install -y -q -o DPkg::Lock::Timeout=300 slurmctld slurmd slurm-client munge)
  export DEBIAN_FRONTEND=noninteractive
  # A failure on stale package lists is cured by one update.
  "${apt[@]}" >"$dir/apt.log" 2>&1 ||
    { apt-get update -q >>"$dir/apt.log" 2>&1 && "${apt[@]}" >>"$dir/apt.log" 2>&1; } ||
    fail "apt-get install slurmctld slurmd slurm-client munge failed; see $dir/apt.log"
}

write_config() {
  # Ports in 20000-39999 from the checkout's path: a second checkout's cluster does not collide with this one.
  local sum port
  sum=$(printf %s "$root" | cksum | cut -d' ' -f1)
  port=$((20000 + sum % 10000 * 2))
  # RealMemory must not exceed what slurmd measures, or the node is drained: 90% of MemTotal.
  local mem_mb
  mem_mb=$(awk '/^MemTotal:/{printf "%d", $2 / 1024 * 0.9}' /proc/meminfo)
  cat >"$SLURM_CONF" <<EOF
# Written by tools/slurm-cluster.sh on every start; edits are lost.
ClusterName=retaintest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$dir/munge.socket
SlurmUser=root
SlurmdUser=root
MpiDefault=none
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmdSpoolDir=$dir/spool
StateSaveLocation=$dir/state
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.log
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

# Runs a daemon in the foreground of its own session, detached from the caller's terminal, pipes and lock: a test
# host that starts the cluster must not wait on the daemons' output. In the foreground (-D) the daemons log to
# stderr, hence to <name>.log. Each writes its own PID file; launched[] keeps the PIDs for start's own checks.
declare -A launched=()
launch() {
  local name=$1; shift
  setsid "$@" </dev/null >>"$dir/$name.log" 2>&1 9>&- &
  launched[$name]=$!
}

start() {
  local i d
  if healthy; then echo "SLURM_CONF=$SLURM_CONF"; return 0; fi
  stop_daemons
  install_packages
  # A fresh start: no jobs, job ids or completion records of an earlier run.
  rm -rf "$dir/state" "$dir/spool" "$dir/jobcomp.log" "$dir"/*.log "$dir/munge.socket"*
  mkdir -p "$dir/state" "$dir/spool" "$dir/munge" && chmod 700 "$dir/munge" || fail "cannot create $dir"
  chmod 755 "$dir"
  if [[ ! -s "$dir/munge/munge.key" ]]; then
    mungekey --create --keyfile="$dir/munge/munge.key" 2>"$dir/munged.log" ||
      fail "mungekey could not create $dir/munge/munge.key; see $dir/munged.log"
  fi
  write_config

  # munged runs as root here (--force), with the key, socket and seed of this cluster.
  launch munged munged --foreground --force --socket="$dir/munge.socket" --key-file="$dir/munge/munge.key" \
    --pid-file="$dir/munged.pid" --seed-file="$dir/munge/munged.seed"
  for ((i = 0; i < 50; i++)); do [[ -S "$dir/munge.socket" ]] && break; sleep 0.1; done
  [[ -S "$dir/munge.socket" ]] || { stop_daemons; fail "munged did not start within 5 s; see $dir/munged.log"; }

  launch slurmctld slurmctld -D -c
  launch slurmd slurmd -D
  # The node registers within about 5 s on an idle machine; 60 s leaves room for a loaded one.
  local state=""
  for ((i = 0; i < 120; i++)); do
    state=$(node_state)
    [[ "$state" == idle ]] && break
    for d in "${daemons[@]}"; do
      alive "${launched[$d]}" || { stop_daemons; fail "$d stopped during start$(fatal_reason "$d"); see $dir/$d.log"; }
    done
    sleep 0.5
  done
  [[ "$state" == idle ]] ||
    { stop_daemons; fail "node $host is '${state:-unknown}' instead of idle after 60 s; see $dir/slurmctld.log and $dir/slurmd.log"; }
  echo "SLURM_CONF=$SLURM_CONF"
}

# Ends the daemons named by their PID files, and any that start() launched and that has not written one yet.
stop_daemons() {
  local d pid pids=()
  for d in slurmd slurmctld munged; do
    pid=$(running_pid "$d") || pid=${launched[$d]:-}
    [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && pids+=("$pid")
  done
  local i
  for ((i = 0; i < 100 && ${#pids[@]} > 0; i++)); do
    local remaining=()
    for pid in "${pids[@]}"; do alive "$pid" && remaining+=("$pid"); done
    pids=("${remaining[@]}")
    ((${#pids[@]})) && sleep 0.1
  done
  ((${#pids[@]} == 0)) || kill -KILL "${pids[@]}" 2>/dev/null
  rm -f "$dir"/{munged,slurmctld,slurmd}.pid
}

stop() {
  # Jobs first: slurmd leaves a running job's processes behind when it ends.
  if running_pid slurmctld >/dev/null; then
    timeout 10 scancel --full --quiet --partition=debug 2>/dev/null
    local i
    for ((i = 0; i < 100; i++)); do
      [[ -z "$(timeout 10 squeue --noheader --format=%i 2>/dev/null)" ]] && break
      sleep 0.1
    done
  fi
  stop_daemons
  # Should a job still run (slurmctld was already dead, say), end its slurmstepd's session: that holds the job's
  # processes. A slurmstepd of this cluster inherited its SLURM_CONF from slurmd.
  local pid
  for pid in $(pgrep -x slurmstepd); do
    if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qxF "SLURM_CONF=$SLURM_CONF"; then
      pkill -KILL --session "$(ps -o sid= -p "$pid" | tr -d " ")"
    fi
  done
}

case "${1:-}" in
  start|stop)
    mkdir -p "$dir" || fail "cannot create $dir"
    # One start or stop at a time per checkout (e.g. CI's and a test's). The daemons do not inherit the lock (9>&-).
    exec 9>"$dir/lock"
    flock --wait 300 9 || fail "another start or stop of this cluster still holds $dir/lock after 300 s"
    "$1"
    ;;
  status)
    if healthy; then echo up; else echo down; exit 1; fi
    ;;
  *)
    echo "usage: tools/slurm-cluster.sh start|stop|status" >&2
    exit 2
    ;;
esac
