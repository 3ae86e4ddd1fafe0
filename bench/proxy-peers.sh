#!/usr/bin/env bash
# proxy-peers.sh - per-region HTTP reverse proxy / cache peer benchmark
# (loopback only).
#
# Two identical nginx backends (1 worker each) serve 1 KiB and 32 KiB files:
#   /cache/{1k,32k}.bin    Cache-Control: public, max-age=3600
#   /nocache/{1k,32k}.bin  Cache-Control: no-store
#   /health                200
# Each peer proxies to both backends, round-robin, active health checks on
# /health every 2 s where the peer has them:
#   haproxy      roundrobin + option httpchk
#   nginx        upstream round-robin + keepalive (OSS nginx: passive checks only)
#   nginx-cache  same + proxy_cache (honours Cache-Control)
#   varnish      round_robin director + probes, default (builtin) caching rules
#   caddy        reverse_proxy lb_policy round_robin + health_uri
#   direct       wrk straight to backend 1: the upper bound on this machine
#   meridian     our proxy: by default built from this repository and run by
#                bench/meridian-proxy.sh (embedded etcd, `meridian policy
#                apply`, `meridian proxy`); MERIDIAN_PROXY_CMD= (empty)
#                leaves it out
# Cases: pass-1k / pass-32k (/nocache/, every request reaches a backend) for
# all; hit-1k / hit-32k (/cache/, primed first) for the caching peers.
#
# Adapted from the team's shared peer benchmark (shared/bench/proxy-peers.sh):
# same peers, backends, cases and report; this copy stands on its own in the
# repository and runs Meridian by default.  See bench/README.md.
#
# Environment:
#   DURATION=4 RUNS=3 CONNS='16 128' THREADS=2   wrk settings (median/min/max)
#   WORK=/tmp/proxybench RESULTS_DIR=<script dir>/results SKIP_INSTALL=0
#   PEERS='haproxy nginx nginx-cache varnish caddy'
#   MERIDIAN_PROXY_CMD='cmd ... {listen} {backend1} {backend2} ...'
#       more placeholders: {health_path} {workdir}; also exported as
#       BENCH_LISTEN BENCH_BACKEND1 BENCH_BACKEND2 BENCH_HEALTH_PATH BENCH_WORKDIR
#     Default: '<this dir>/meridian-proxy.sh run'; empty leaves Meridian out.
#   MERIDIAN_PROXY_SETUP='cmd'  run once (same placeholders) before starting it
#     (default with the default command: '<this dir>/meridian-proxy.sh setup')
#   MERIDIAN_BIN=/path/to/meridian  use this binary instead of building one
#   MERIDIAN_CACHES=0           also run the hit-* cases through it (default 0:
#                               Meridian's proxy has no cache yet, so a "hit"
#                               case would measure pass-through again)
#   MERIDIAN_NAME=meridian      row label
set -uo pipefail
# The body is one { ... } block, so bash reads the whole script before
# running any of it: editing or checking out this file during a run does
# not change the run.
{
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LIB=$HERE/lib
. "$LIB/common.sh"

WORK=${WORK:-/tmp/proxybench}
RESULTS_DIR=${RESULTS_DIR:-$HERE/results}
DURATION=${DURATION:-4}
RUNS=${RUNS:-3}
CONNS=${CONNS:-16 128}
THREADS=${THREADS:-2}
PEERS=${PEERS:-haproxy nginx nginx-cache varnish caddy}
SKIP_INSTALL=${SKIP_INSTALL:-0}
MERIDIAN_NAME=${MERIDIAN_NAME:-meridian}
MERIDIAN_CACHES=${MERIDIAN_CACHES:-0}
# Meridian is a peer by default (unset: the adapter; set but empty: left out).
if [ -z "${MERIDIAN_PROXY_CMD+set}" ]; then
  MERIDIAN_PROXY_CMD="$HERE/meridian-proxy.sh run"
  MERIDIAN_PROXY_SETUP=${MERIDIAN_PROXY_SETUP-"$HERE/meridian-proxy.sh setup"}
  MERIDIAN_VERSION_CMD=${MERIDIAN_VERSION_CMD-"$HERE/meridian-proxy.sh version"}
fi

B1=127.0.2.1:8080
B2=127.0.2.2:8080
declare -A LISTEN=([direct]=$B1 [haproxy]=127.0.3.1:8080 [nginx]=127.0.3.2:8080
                   [nginx-cache]=127.0.3.3:8080 [varnish]=127.0.3.4:8080 [caddy]=127.0.3.5:8080
                   [$MERIDIAN_NAME]=127.0.3.9:8080)
declare -A CASES=([direct]="pass-1k pass-32k" [haproxy]="pass-1k pass-32k" [nginx]="pass-1k pass-32k"
                  [nginx-cache]="hit-1k hit-32k" [varnish]="pass-1k pass-32k hit-1k hit-32k"
                  [caddy]="pass-1k pass-32k" [$MERIDIAN_NAME]="pass-1k pass-32k")
[ "$MERIDIAN_CACHES" = 1 ] && CASES[$MERIDIAN_NAME]="pass-1k pass-32k hit-1k hit-32k"
case_path() { case $1 in pass-1k) echo /nocache/1k.bin ;; pass-32k) echo /nocache/32k.bin ;;
                         hit-1k) echo /cache/1k.bin ;; hit-32k) echo /cache/32k.bin ;; esac; }

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RAW=$RESULTS_DIR/proxy-$STAMP
mkdir -p "$RAW"
exec > >(tee -a "$RAW/console.log") 2>&1

trap 'stop_all' EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ install
PKGS=(wrk nghttp2-client haproxy nginx varnish caddy curl python3)
if [ "$SKIP_INSTALL" != 1 ]; then
  ensure_pkgs "${PKGS[@]}" || { log "package install failed"; exit 1; }
fi
for b in wrk h2load haproxy nginx varnishd caddy curl python3; do
  command -v "$b" >/dev/null || { log "missing $b"; exit 1; }
done

SYSTEMS=(direct)
for p in $PEERS; do SYSTEMS+=("$p"); done
[ -n "${MERIDIAN_PROXY_CMD:-}" ] && SYSTEMS+=("$MERIDIAN_NAME")

{
  echo "date_utc: $(date -u '+%Y-%m-%d %H:%M:%S')"
  echo "host: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
  echo "wrk: -t$THREADS -d${DURATION}s --latency, connections: $CONNS, runs=$RUNS"
  versions wrk nghttp2-client haproxy nginx nginx-common varnish caddy
  [ -n "${MERIDIAN_VERSION_CMD:-}" ] && echo "$MERIDIAN_NAME $(bash -c "$MERIDIAN_VERSION_CMD" 2>&1 | head -1)"
} | tee "$RAW/versions.txt"

rm -rf "$WORK"
mkdir -p "$WORK"/{www/cache,www/nocache,b1/tmp,b2/tmp,nginx/tmp,nginx-cache/tmp,nginx-cache/cache,haproxy,varnish,caddy,$MERIDIAN_NAME}
for d in cache nocache; do
  head -c 1024 /dev/urandom > "$WORK/www/$d/1k.bin"
  head -c 32768 /dev/urandom > "$WORK/www/$d/32k.bin"
done
chmod -R a+rX "$WORK/www"

nginx_common() { # dir
  cat <<EOF
daemon off;
pid $1/nginx.pid;
error_log $1/error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 8192; }
EOF
}
nginx_http_common() { # dir
  cat <<EOF
  access_log off;
  client_body_temp_path $1/tmp; proxy_temp_path $1/tmp; fastcgi_temp_path $1/tmp;
  uwsgi_temp_path $1/tmp; scgi_temp_path $1/tmp;
  keepalive_requests 1000000;
  keepalive_timeout 65s;
  types { application/octet-stream bin; }
  default_type application/octet-stream;
EOF
}

# ------------------------------------------------------------------ backends
for b in b1 b2; do
  d=$WORK/$b
  addr=$B1; [ $b = b2 ] && addr=$B2
  {
    echo "worker_processes 1;"
    nginx_common "$d"
    echo "http {"
    nginx_http_common "$d"
    cat <<EOF
  sendfile on; tcp_nopush on; tcp_nodelay on;
  open_file_cache max=64 inactive=60s;
  server {
    listen $addr backlog=4096;
    root $WORK/www;
    location /cache/   { add_header Cache-Control "public, max-age=3600"; add_header X-Backend $b; }
    location /nocache/ { add_header Cache-Control "no-store"; add_header X-Backend $b; }
    location = /health { add_header X-Backend $b; return 200 "ok\n"; }
  }
}
EOF
  } > "$d/nginx.conf"
  start_bg "backend-$b" "$d/out.log" nginx -p "$d" -c "$d/nginx.conf"
done

# ------------------------------------------------------------------ peers
setup_haproxy() {
  local d=$WORK/haproxy
  cat > "$d/haproxy.cfg" <<EOF
global
  nbthread 2
  maxconn 8000
defaults
  mode http
  option http-keep-alive
  timeout connect 2s
  timeout client 30s
  timeout server 30s
frontend fe
  bind ${LISTEN[haproxy]}
  default_backend be
backend be
  balance roundrobin
  option httpchk GET /health
  server b1 $B1 check inter 2s fall 2 rise 2
  server b2 $B2 check inter 2s fall 2 rise 2
EOF
  start_bg haproxy "$d/out.log" haproxy -db -f "$d/haproxy.cfg"
}

nginx_proxy_conf() { # name dir cache(0/1)
  local name=$1 d=$2 cache=$3
  echo "worker_processes 2;"
  nginx_common "$d"
  echo "http {"
  nginx_http_common "$d"
  [ "$cache" = 1 ] && echo "  proxy_cache_path $d/cache levels=1:2 keys_zone=c:16m max_size=1g inactive=60m use_temp_path=off;"
  cat <<EOF
  upstream backends {
    server $B1 max_fails=2 fail_timeout=2s;
    server $B2 max_fails=2 fail_timeout=2s;
    keepalive 128;
  }
  server {
    listen ${LISTEN[$name]} backlog=4096;
    location / {
      proxy_pass http://backends;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffer_size 16k;
      proxy_buffers 8 16k;
EOF
  if [ "$cache" = 1 ]; then
    cat <<EOF
      proxy_cache c;
      proxy_cache_lock on;
      add_header X-Cache-Status \$upstream_cache_status;
EOF
  fi
  echo "    }"
  echo "  }"
  echo "}"
}
setup_nginx() {
  nginx_proxy_conf nginx "$WORK/nginx" 0 > "$WORK/nginx/nginx.conf"
  start_bg nginx "$WORK/nginx/out.log" nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf"
}
setup_nginx-cache() {
  nginx_proxy_conf nginx-cache "$WORK/nginx-cache" 1 > "$WORK/nginx-cache/nginx.conf"
  start_bg nginx-cache "$WORK/nginx-cache/out.log" nginx -p "$WORK/nginx-cache" -c "$WORK/nginx-cache/nginx.conf"
}

setup_varnish() {
  local d=$WORK/varnish
  cat > "$d/default.vcl" <<EOF
vcl 4.1;
import directors;
probe health { .url = "/health"; .interval = 2s; .timeout = 1s; .window = 2; .threshold = 2; .initial = 2; }
backend b1 { .host = "${B1%:*}"; .port = "${B1#*:}"; .probe = health; }
backend b2 { .host = "${B2%:*}"; .port = "${B2#*:}"; .probe = health; }
sub vcl_init {
  new rr = directors.round_robin();
  rr.add_backend(b1);
  rr.add_backend(b2);
}
sub vcl_recv { set req.backend_hint = rr.backend(); }
sub vcl_deliver {
  if (obj.hits > 0) { set resp.http.X-Cache = "HIT"; } else { set resp.http.X-Cache = "MISS"; }
}
EOF
  chmod a+rx "$d"; chmod a+r "$d/default.vcl"
  start_bg varnish "$d/out.log" varnishd -F -n "$d/work" -a "${LISTEN[varnish]}" -T none \
    -f "$d/default.vcl" -s malloc,256m
}

setup_caddy() {
  local d=$WORK/caddy
  cat > "$d/Caddyfile" <<EOF
{
  admin off
  auto_https off
}
http://${LISTEN[caddy]} {
  bind ${LISTEN[caddy]%:*}
  reverse_proxy $B1 $B2 {
    lb_policy round_robin
    health_uri /health
    health_interval 2s
    health_timeout 1s
  }
}
EOF
  start_bg caddy "$d/out.log" env HOME="$d" XDG_DATA_HOME="$d/data" XDG_CONFIG_HOME="$d/config" \
    caddy run --config "$d/Caddyfile" --adapter caddyfile
}

setup_meridian() {
  local d=$WORK/$MERIDIAN_NAME
  local kv=("listen=${LISTEN[$MERIDIAN_NAME]}" "backend1=$B1" "backend2=$B2" "health_path=/health" "workdir=$d")
  export BENCH_LISTEN=${LISTEN[$MERIDIAN_NAME]} BENCH_BACKEND1=$B1 BENCH_BACKEND2=$B2 \
         BENCH_HEALTH_PATH=/health BENCH_WORKDIR=$d
  if [ -n "${MERIDIAN_PROXY_SETUP:-}" ]; then
    log "running MERIDIAN_PROXY_SETUP"
    (cd "$d" && timeout 600 bash -c "$(subst "$MERIDIAN_PROXY_SETUP" "${kv[@]}")") > "$d/setup.log" 2>&1 \
      || { log "MERIDIAN_PROXY_SETUP failed (see setup.log)"; cp "$d/setup.log" "$RAW/"; return 1; }
  fi
  local cmd
  cmd=$(subst "$MERIDIAN_PROXY_CMD" "${kv[@]}")
  log "$MERIDIAN_NAME command: $cmd"
  start_bg "$MERIDIAN_NAME" "$d/out.log" bash -c "cd '$d' && exec $cmd"
}

for s in "${SYSTEMS[@]}"; do
  case $s in
    direct) ;;
    haproxy|nginx|nginx-cache|varnish|caddy) "setup_$s" ;;
    "$MERIDIAN_NAME") setup_meridian || SYSTEMS=("${SYSTEMS[@]/$MERIDIAN_NAME}") ;;
    *) log "unknown peer $s"; exit 1 ;;
  esac
done
mapfile -t SYSTEMS < <(printf '%s\n' "${SYSTEMS[@]}" | grep -v '^$')

# wait for the backends, then for every peer to answer through to them
http_ok() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1")" = 200 ]; }
for b in $B1 $B2; do
  for ((i = 0; i < 50; i++)); do http_ok "http://$b/health" && break; sleep 0.2; done
  http_ok "http://$b/health" || { log "backend $b is not up"; exit 1; }
done
READY=()
for s in "${SYSTEMS[@]}"; do
  ok=0
  pid=$(pid_of "$s") || pid=""
  for ((i = 0; i < 100; i++)); do
    if http_ok "http://${LISTEN[$s]}/nocache/1k.bin"; then ok=1; break; fi
    [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null && break   # it exited
    sleep 0.2
  done
  if [ $ok = 1 ]; then READY+=("$s"); else log "$s did not answer within 20 s; left out"; fi
done
SYSTEMS=("${READY[@]}")
sleep 3   # let the first health-check rounds mark both backends up

# ------------------------------------------------------------------ verify
hdr() { curl -s -D - -o /dev/null --max-time 2 "$1" | tr -d '\r' | awk -v h="$2" 'tolower($1)==tolower(h)":"{print $2}'; }
{
  echo "| system | X-Backend of 6 pass requests | cache status: /cache/1k.bin 1st, 2nd, 3rd | /nocache/1k.bin 2nd |"
  echo "|---|---|---|---|"
  for s in "${SYSTEMS[@]}"; do
    rr=""
    for i in 1 2 3 4 5 6; do rr="$rr$(hdr "http://${LISTEN[$s]}/nocache/1k.bin" X-Backend) "; done
    c1=$(curl -s -D - -o /dev/null "http://${LISTEN[$s]}/cache/1k.bin" | tr -d '\r' | grep -iE '^(x-cache|x-cache-status|age):' | tr '\n' ' ')
    c2=$(curl -s -D - -o /dev/null "http://${LISTEN[$s]}/cache/1k.bin" | tr -d '\r' | grep -iE '^(x-cache|x-cache-status|age):' | tr '\n' ' ')
    c3=$(curl -s -D - -o /dev/null "http://${LISTEN[$s]}/cache/1k.bin" | tr -d '\r' | grep -iE '^(x-cache|x-cache-status|age):' | tr '\n' ' ')
    n2=$(curl -s -D - -o /dev/null "http://${LISTEN[$s]}/nocache/1k.bin" | tr -d '\r' | grep -iE '^(x-cache|x-cache-status|age):' | tr '\n' ' ')
    echo "| $s | $rr | ${c1:--}, ${c2:--}, ${c3:--} | ${n2:--} |"
  done
} | tee "$RAW/verify.md"
# prime the caches for the hit cases
for s in "${SYSTEMS[@]}"; do
  for p in /cache/1k.bin /cache/32k.bin; do curl -s -o /dev/null "http://${LISTEN[$s]}$p"; curl -s -o /dev/null "http://${LISTEN[$s]}$p"; done
done

# ------------------------------------------------------------------ benchmark
TSV=$RAW/results.tsv
echo -e "#system\tcase\tconns\tround\trps\tp50_ms\tp99_ms\tsocket_errors\tnon2xx\trequests\tforeign_cpu_pct" > "$TSV"
n=${#SYSTEMS[@]}
total=0
for s in "${SYSTEMS[@]}"; do for c in ${CASES[$s]}; do for k in $CONNS; do total=$((total + 1)); done; done; done
log "benchmark: ${SYSTEMS[*]}; $RUNS rounds x $total runs x ${DURATION}s (~$(((RUNS * total * DURATION * 11 / 10 + 30) / 60 + 1)) min)"
# one short warm-up per system
for s in "${SYSTEMS[@]}"; do
  timeout 10 wrk -t"$THREADS" -c16 -d1s "http://${LISTEN[$s]}/nocache/1k.bin" > /dev/null 2>&1
done
for ((r = 1; r <= RUNS; r++)); do
  for ((j = 0; j < n; j++)); do
    s=${SYSTEMS[$(((j + r - 1) % n))]}   # rotate the order each round
    for c in ${CASES[$s]}; do
      for k in $CONNS; do
        out=$RAW/wrk-$s-$c-c$k-r$r.txt
        # repeated when other processes used more than MAX_FOREIGN_CPU % (lib/common.sh)
        for ((try = 0; try <= RETRIES; try++)); do
          wait_quiet
          foreign_start "${PIDS[@]}"
          timeout $((DURATION + 20)) wrk -t"$THREADS" -c"$k" -d"${DURATION}s" --latency --timeout 2s \
            "http://${LISTEN[$s]}$(case_path "$c")" > "$out" 2>&1
          foreign_end
          awk -v f="$FOREIGN" -v m="$MAX_FOREIGN_CPU" 'BEGIN { exit !(f <= m) }' && break
          [ $try -lt "$RETRIES" ] && log "round $r $s $c c=$k: other processes used ${FOREIGN}% of the CPUs; repeating"
        done
        read -r rps p50 p99 errs non2xx reqs < <(python3 "$LIB/summarize.py" wrk "$out")
        echo -e "$s\t$c\t$k\t$r\t$rps\t$p50\t$p99\t$errs\t$non2xx\t$reqs\t$FOREIGN" >> "$TSV"
        log "round $r $s $c c=$k (others ${FOREIGN}% CPU): $rps req/s, p50 $p50 ms, p99 $p99 ms, errors $errs, non-2xx $non2xx"
      done
    done
  done
done

# ------------------------------------------------------------------ report
for s in "${SYSTEMS[@]}" b1 b2; do
  [ -d "$WORK/$s" ] || continue
  cat "$WORK/$s/out.log" "$WORK/$s/error.log" > "$RAW/server-$s.log" 2>/dev/null
done
{
  echo "## HTTP proxy peers ($(date -u '+%Y-%m-%d %H:%M UTC'), $RUNS runs x ${DURATION}s, wrk -t$THREADS)"
  echo
  python3 "$LIB/summarize.py" http-table "$TSV"
} > "$RAW/table.md"
cat "$RAW/table.md"
log "raw output in ${RAW#"$HERE"/}"
exit
}
