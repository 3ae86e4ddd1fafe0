# shellcheck shell=bash
# Shared helpers for dns-peers.sh and proxy-peers.sh (sourced, not run).
# Every process is started so that it leads its own process group (setsid,
# or bash job control); stop_all() ends exactly those groups, by id, in
# reverse order.

PIDS=()
PNAMES=()

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }

# Install Debian packages that are missing.  A temporary policy-rc.d keeps
# the packages' own system services (nginx on :80, pdns/knot/nsd on :53...)
# from being started by the install.
ensure_pkgs() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && { log "packages present: $*"; return 0; }
  log "installing: ${missing[*]}"
  local made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  local rc=$?
  [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
  return $rc
}

# start_bg NAME LOGFILE CMD...  (runs CMD in its own session/process group)
start_bg() {
  local name=$1 logf=$2
  shift 2
  if [[ $- == *m* ]]; then
    "$@" >"$logf" 2>&1 </dev/null &   # job control on: the job leads its own group
  else
    setsid "$@" >"$logf" 2>&1 </dev/null &   # not a group leader: setsid does not fork
  fi
  local pid=$!
  PIDS+=("$pid")
  PNAMES+=("$name")
  log "started $name (pid $pid)"
}

_alive() { # pid -> true if the process or its group still has members
  kill -0 -- "-$1" 2>/dev/null || kill -0 "$1" 2>/dev/null
}

_signal() { # sig pid
  if [ "$(ps -o pgid= -p "$2" 2>/dev/null | tr -d ' ')" = "$2" ] || ! kill -0 "$2" 2>/dev/null; then
    kill "-$1" -- "-$2" 2>/dev/null
  fi
  kill "-$1" "$2" 2>/dev/null
}

stop_all() {
  local i pid t
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    pid=${PIDS[i]}
    _alive "$pid" && _signal TERM "$pid"
  done
  for ((t = 0; t < 50; t++)); do
    local any=0
    for pid in "${PIDS[@]}"; do _alive "$pid" && any=1; done
    [ $any = 0 ] && break
    sleep 0.2
  done
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    pid=${PIDS[i]}
    if _alive "$pid"; then
      log "force-killing ${PNAMES[i]} (pid $pid)"
      _signal KILL "$pid"
    fi
  done
  wait "${PIDS[@]}" 2>/dev/null   # not a bare wait: that would also wait for the tee of the log
  [ ${#PIDS[@]} -gt 0 ] && log "stopped: ${PNAMES[*]}"
  PIDS=()
  PNAMES=()
}

# pid_of NAME -> pid of a process started with start_bg
pid_of() {
  local i
  for ((i = 0; i < ${#PIDS[@]}; i++)); do
    [ "${PNAMES[i]}" = "$1" ] && { echo "${PIDS[i]}"; return 0; }
  done
  return 1
}

# subst TEMPLATE KEY=VALUE...  replaces {KEY} placeholders
subst() {
  local s=$1 kv
  shift
  for kv in "$@"; do
    s=${s//\{${kv%%=*}\}/${kv#*=}}
  done
  printf '%s' "$s"
}

# versions PKG... -> "pkg version" lines from dpkg
versions() {
  dpkg-query -W -f='${Package} ${Version}\n' "$@" 2>/dev/null
}

# ---- other processes' CPU use (the machine may be shared: builds, tests)
# Added in the repository copy: each measurement records how much of the
# CPUs processes other than the benchmark's used meanwhile, waits for a
# quiet machine first, and is repeated when others used more than
# MAX_FOREIGN_CPU percent.
CLK_TCK=$(getconf CLK_TCK)
NCPU=$(nproc)
MAX_FOREIGN_CPU=${MAX_FOREIGN_CPU:-10}   # percent of all CPUs
QUIET_WAIT=${QUIET_WAIT:-120}            # seconds to wait for a quiet machine
RETRIES=${RETRIES:-2}                    # repeats of a disturbed measurement

cpu_busy_ticks() { # user+nice+system clock ticks of the whole machine
  # (not irq/softirq: with IRQ time accounting the loopback traffic's
  # softirq time would be charged to no process, and count as foreign)
  awk '/^cpu /{print $2 + $3 + $4}' /proc/stat
}

group_pids() { # pgid -> pids of its processes, comma-separated
  ps -e -o pid=,pgid= | awk -v g="$1" '$2 == g {print $1}' | paste -sd, -
}

group_ticks() { # pgid... -> utime+stime clock ticks summed over their processes
  local p t=0 st g fields
  for g in "$@"; do
    for p in $(group_pids "$g" | tr ',' ' '); do
      st=$(cat "/proc/$p/stat" 2>/dev/null) || continue
      st=${st##*) }   # the fields after "pid (comm) "
      read -r -a fields <<< "$st"
      t=$((t + fields[11] + fields[12]))
    done
  done
  echo "$t"
}

children_ticks() { # sets _CT: CPU ticks of this shell's waited-for children so far
  # (times must run in this shell, not in a $(...) subshell, whose children
  # are its own: hence a variable and a file, not output and a pipe)
  local f=${TMPDIR:-/tmp}/bench-times.$$
  times > "$f"
  _CT=$(tail -1 "$f" | awk -v hz="$CLK_TCK" '{
    s = 0
    for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); s += a[1] * 60 + a[2] }
    printf "%d\n", s * hz + 0.5 }')
  rm -f "$f"
}

# wait_quiet: wait (up to QUIET_WAIT s) until the machine's CPUs are less
# than MAX_FOREIGN_CPU percent busy over one second (the benchmark's servers
# are idle between measurements).
wait_quiet() {
  local waited=0 b0 b1 pct
  while :; do
    b0=$(cpu_busy_ticks); sleep 1; b1=$(cpu_busy_ticks)
    pct=$(( (b1 - b0) * 100 / (CLK_TCK * NCPU) ))
    [ "$pct" -le "$MAX_FOREIGN_CPU" ] && return 0
    if [ $waited -ge "$QUIET_WAIT" ]; then
      log "machine still ${pct}% busy after ${QUIET_WAIT}s; measuring anyway"
      return 1
    fi
    [ $waited = 0 ] && log "machine ${pct}% busy (other processes); waiting for it to quieten"
    sleep 4
    waited=$((waited + 5))
  done
}

# foreign_start PGID...; (run the measurement); foreign_end: sets FOREIGN
# to the percent of all CPUs used by processes other than those groups and
# this shell's children (the load generator) during the measurement.
# (Call both in this shell, not in $(...).)
foreign_start() {
  _F_GROUPS=("$@")
  children_ticks; _F_C0=$_CT
  _F_B0=$(cpu_busy_ticks); _F_G0=$(group_ticks "$@"); _F_T0=$(date +%s.%N)
}
foreign_end() {
  local b1 g1 c1 t1
  children_ticks; c1=$_CT
  b1=$(cpu_busy_ticks); g1=$(group_ticks "${_F_GROUPS[@]}"); t1=$(date +%s.%N)
  # shellcheck disable=SC2034  # read by the scripts
  FOREIGN=$(awk -v b=$((b1 - _F_B0)) -v g=$((g1 - _F_G0)) -v c=$((c1 - _F_C0)) -v t0="$_F_T0" -v t1="$t1" \
      -v hz="$CLK_TCK" -v n="$NCPU" 'BEGIN {
    f = (b - g - c) / hz / ((t1 - t0) * n) * 100
    if (f < 0) f = 0
    printf "%.1f\n", f }')
}
