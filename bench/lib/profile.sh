# shellcheck shell=bash
# Profile step of dns-peers.sh (sourced when PROFILE=1, after the rounds,
# while every server is still up). Every measurement is bounded in time.
# Output: $RAW/profile/summary.md plus the raw files next to it.
#
# For every system, one max-rate dnsperf run (PROFILE_DURATION s) with:
#   * the server's CPU time (utime+stime of every process of its process
#     group, from /proc) per answered query: a cost per query that does not
#     depend on how the cores were shared with dnsperf;
#   * syscalls per answered query (perf stat on the raw_syscalls and the
#     socket syscall tracepoints), when perf is installed.
# For Meridian also:
#   * Go allocations and GC cycles per query (go_memstats_* from /metrics,
#     the adapter runs `meridian dns --admin` when PROFILE=1);
#   * a CPU profile (perf record -g, cpu-clock) of `meridian dns`;
#   * strace -c -f of `meridian dns` over one run (slows it down a lot: read
#     the mix of calls, not the rate).

PROFILE_DURATION=${PROFILE_DURATION:-8}



dnsperf_run() { # system seconds out-file
  # shellcheck disable=SC2086
  timeout $(($2 + 30)) dnsperf -B -d "$WORK/queries.bin" -s "${ADDR[$1]}" -p "$PORT" -l "$2" $DNSPERF_OPTS > "$3" 2>&1
}

completed() { sed -n 's/.*Queries completed:[[:space:]]*\([0-9]*\).*/\1/p' "$1"; }

scrape() { # metric names... from Meridian's /metrics -> "name value" lines
  curl -s --max-time 2 "http://$MERIDIAN_ADMIN/metrics" | awk -v want="$*" '
    BEGIN { n = split(want, w, " "); for (i = 1; i <= n; i++) k[w[i]] = 1 }
    ($1 in k) { print $1, $2 }'
}

meridian_dns_pid() { # the `meridian dns` process inside the adapter's group
  ps -e -o pid=,pgid=,args= | awk -v g="$1" '$2 == g && / dns --listen/ {print $1; exit}'
}

profile_all() {
  local P=$RAW/profile s pg pids t0 t1 out n hz
  mkdir -p "$P"
  hz=$(getconf CLK_TCK)
  local have_perf=0 tps=""
  # (the list is captured first: grep -q on a pipe would SIGPIPE perf
  # list, and pipefail would call that a failure)
  command -v perf >/dev/null && tps=$(perf list tracepoint 2>/dev/null)
  [[ $tps == *"raw_syscalls:sys_enter "* ]] && have_perf=1
  local ev="raw_syscalls:sys_enter"
  local sc
  for sc in recvmsg recvfrom recvmmsg sendmsg sendto sendmmsg read write futex epoll_pwait epoll_wait nanosleep sched_yield; do
    [[ $tps == *"syscalls:sys_enter_$sc "* ]] && ev="$ev,syscalls:sys_enter_$sc"
  done
  {
    echo "### CPU and syscalls per query ($(date -u '+%Y-%m-%d %H:%M UTC'), dnsperf $DNSPERF_OPTS -l $PROFILE_DURATION, query mix)"
    echo
    echo "| system | q/s | server CPU s | CPU us/query | syscalls/query | socket syscalls/query (recv; send) | others' CPU % |"
    echo "|---|---:|---:|---:|---:|---|---:|"
  } > "$P/summary.md"
  for s in "${SYSTEMS[@]}"; do
    pg=$(pid_of "$s") || continue
    out=$P/dnsperf-$s.txt
    wait_quiet
    pids=$(group_pids "$pg")
    foreign_start "${PIDS[@]}"
    t0=$(group_ticks "$pg")
    if [ $have_perf = 1 ]; then
      timeout $((PROFILE_DURATION + 30)) perf stat -x, -e "$ev" -p "$pids" -o "$P/perfstat-$s.csv" \
        -- sleep $((PROFILE_DURATION + 1)) &
      local perfpid=$!
      sleep 0.5
    fi
    dnsperf_run "$s" "$PROFILE_DURATION" "$out"
    t1=$(group_ticks "$pg")
    foreign_end
    [ $have_perf = 1 ] && wait "$perfpid"
    n=$(completed "$out")
    read -r qps _ < <(python3 "$LIB/summarize.py" dnsperf "$out")
    python3 - "$s" "$qps" "$((t1 - t0))" "$hz" "$n" "$P/perfstat-$s.csv" "$FOREIGN" >> "$P/summary.md" <<'EOF'
import sys, os
s, qps, ticks, hz, n, csv = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5] or 0), sys.argv[6]
foreign = sys.argv[7]
cpu = ticks / hz
c = {}
if os.path.exists(csv):
    for line in open(csv):
        f = line.strip().split(",")
        if len(f) > 2 and f[0].replace(".", "").isdigit():
            c[f[2].split(":")[-1].replace("sys_enter_", "")] = int(float(f[0]))
per = lambda k: f"{c[k] / n:.2f}" if k in c and n else "n/a"
recv = [f"{k} {per(k)}" for k in ("recvmsg", "recvfrom", "recvmmsg", "read") if c.get(k)]
send = [f"{k} {per(k)}" for k in ("sendmsg", "sendto", "sendmmsg", "write") if c.get(k)]
tot = per("sys_enter")
print(f"| {s} | {qps:,.0f} | {cpu:.2f} | {cpu / n * 1e6:.2f} | {tot} | {', '.join(recv)}; {', '.join(send)} | {foreign} |" if n else f"| {s} | n/a | | | | | |")
EOF
  done
  echo >> "$P/summary.md"

  # ---- Meridian only
  if [[ " ${SYSTEMS[*]} " == *" $MERIDIAN_NAME "* ]] && pg=$(pid_of "$MERIDIAN_NAME"); then
    local dpid
    dpid=$(meridian_dns_pid "$pg")
    if [ -n "$dpid" ]; then
      log "profile: meridian dns is pid $dpid"
      local names="go_memstats_mallocs_total go_memstats_alloc_bytes_total go_gc_duration_seconds_count process_cpu_seconds_total"
      wait_quiet
      scrape $names > "$P/metrics-before.txt"
      dnsperf_run "$MERIDIAN_NAME" "$PROFILE_DURATION" "$P/dnsperf-meridian-alloc.txt"
      scrape $names > "$P/metrics-after.txt"
      n=$(completed "$P/dnsperf-meridian-alloc.txt")
      python3 - "$P/metrics-before.txt" "$P/metrics-after.txt" "$n" "$PROFILE_DURATION" >> "$P/summary.md" <<'EOF'
import sys
def load(p):
    return {l.split()[0]: float(l.split()[1]) for l in open(p) if l.strip()}
a, b, n, d = load(sys.argv[1]), load(sys.argv[2]), int(sys.argv[3] or 0), float(sys.argv[4])
if not a or not b or not n:
    print("(Go runtime metrics not available: is the admin endpoint on?)")
else:
    dm = b["go_memstats_mallocs_total"] - a["go_memstats_mallocs_total"]
    db = b["go_memstats_alloc_bytes_total"] - a["go_memstats_alloc_bytes_total"]
    dg = b["go_gc_duration_seconds_count"] - a["go_gc_duration_seconds_count"]
    dc = b["process_cpu_seconds_total"] - a["process_cpu_seconds_total"]
    print(f"### meridian dns, Go runtime over one {d:.0f} s max-rate run ({n:,} queries answered)\n")
    print("| allocs/query | bytes/query | GC cycles | GC cycles/s | dns process CPU us/query |")
    print("|---:|---:|---:|---:|---:|")
    print(f"| {dm / n:.1f} | {db / n:.0f} | {dg:.0f} | {dg / d:.1f} | {dc / n * 1e6:.2f} |\n")
EOF
      if [ $have_perf = 1 ]; then
        log "profile: perf record of meridian dns"
        wait_quiet
        timeout $((PROFILE_DURATION + 30)) perf record -e cpu-clock -F 999 -g -p "$dpid" -o "$P/perf.data" \
          -- sleep "$PROFILE_DURATION" > "$P/perf-record.log" 2>&1 &
        local rec=$!
        sleep 0.3
        dnsperf_run "$MERIDIAN_NAME" "$PROFILE_DURATION" "$P/dnsperf-meridian-perf.txt"
        wait "$rec"
        perf report -i "$P/perf.data" --no-children --sort symbol --stdio 2>/dev/null \
          | grep -v '^$' | grep -v '^#' | grep '%' | head -60 > "$P/perf-self.txt"
        perf report -i "$P/perf.data" --children --sort symbol --stdio -g none 2>/dev/null \
          | grep -v '^#' | grep '%' | head -80 > "$P/perf-children.txt"
        {
          echo "### meridian dns: perf record -e cpu-clock -g, top symbols by self time"
          echo
          echo '```'
          head -30 "$P/perf-self.txt"
          echo '```'
          echo
        } >> "$P/summary.md"
      fi
      if command -v strace >/dev/null; then
        log "profile: strace -c -f of meridian dns (slows it down)"
        timeout -s INT 5 strace -c -f -p "$dpid" -o "$P/strace-c.txt" &
        local st=$!
        sleep 0.3
        dnsperf_run "$MERIDIAN_NAME" 4 "$P/dnsperf-meridian-strace.txt"
        wait "$st"
        {
          echo "### meridian dns: strace -c -f over a 4 s dnsperf run ($(completed "$P/dnsperf-meridian-strace.txt") queries answered under strace)"
          echo
          echo '```'
          head -25 "$P/strace-c.txt"
          echo '```'
        } >> "$P/summary.md"
      fi
    fi
  fi
  cat "$P/summary.md"
}
