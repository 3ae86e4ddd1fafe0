#!/usr/bin/env bash
# dns-peers.sh - authoritative GSLB DNS peer benchmark (loopback only).
#
# Peers, each on its own 127.0.0.x address, same port, equivalent zone
# 'gslb.example.' (SOA, NS, ns1 A, www A/AAAA):
#   gdnsd   geoip plugin, city auto-mode (nearest region by coordinates), ECS,
#           http_status health checks of the region endpoints
#   pdns    PowerDNS + bind backend, LUA records:
#           ifurlup(health URL, {{regions}}, {selector='pickclosest'}), ECS,
#           geoip backend loaded for pickclosest's geolocation
#   knot    static www A/AAAA ('no logic' upper bound)
#   nsd     static www A/AAAA ('no logic' upper bound)
#   coredns static, file plugin            (only if COREDNS_BIN is set)
#   meridian our server: by default built from this repository and run by
#           bench/meridian-dns.sh (embedded etcd, `meridian policy apply`,
#           `meridian probe` for live health, `meridian dns`); set
#           MERIDIAN_DNS_CMD= (empty) to leave it out
#
# Adapted from the team's shared peer benchmark (shared/bench/dns-peers.sh):
# same peers, zone, query mix, GeoIP data and report, so figures of the two
# can be read side by side; this copy stands on its own in the repository
# and runs Meridian by default.  See bench/README.md.
#
# Steering scenario: regions us-east (127.0.10.1, Ashburn), eu-west
# (127.0.10.2, Frankfurt), ap-south (127.0.10.3, Singapore).  Each region
# endpoint serves http://<ip>:8080/health; ap-south answers 503 (down), so
# steered answers are "nearest healthy region".  AAAA answers are the
# v4-mapped forms (::ffff:127.0.10.x) so that health checks of the IPv6
# answers also go to loopback only.  The GeoIP DB is generated
# (lib/mkmmdb.py, GeoIP2-City schema) and maps the ECS subnets of the query
# mix and 127.0.0.0/8 (the non-ECS source -> New York).
#
# Environment:
#   DURATION=10 RUNS=5          dnsperf seconds per run, rounds (median/min/max)
#   DNSPERF_OPTS='-c 8 -T 1 -q 200 -t 2'   load generator settings (no -Q: max)
#   LAT_QPS=1000 LAT_DURATION=4 fixed-rate run per round for p50/p99 latency
#   PORT=5300  WORK=/tmp/dnsbench  RESULTS_DIR=<script dir>/results
#   PEERS='gdnsd pdns knot nsd' SKIP_INSTALL=0
#   QUERY_MIX=full              or steered-ecs: only www A/AAAA, all with ECS
#                               (lib/mkqueries.py)
#   PDNS_LUA_PROBE=1            after the rounds, measure PowerDNS on single names
#                               (plain A / trivial LUA / pickclosest / www) for 3 s each
#   COREDNS_BIN=/path/to/coredns          adds CoreDNS (static zone, file plugin)
#   MERIDIAN_DNS_CMD='cmd ... {addr} {port} ...'  our server; placeholders:
#       {addr} {port} {mmdb} {zonefile} {regions} {workdir}
#     (also exported as BENCH_DNS_ADDR BENCH_DNS_PORT BENCH_MMDB BENCH_ZONEFILE
#      BENCH_REGIONS BENCH_WORKDIR).  {regions} is a JSON file describing the
#      regions, coordinates, answers and the health-check URL.
#     Default: '<this dir>/meridian-dns.sh run'; empty leaves Meridian out.
#   MERIDIAN_DNS_SETUP='cmd'    run once (same placeholders) before starting it
#     (default with the default command: '<this dir>/meridian-dns.sh setup',
#      which builds bin/meridian and bench/cmd/benchseed into {workdir}/bin
#      and writes the policy)
#   MERIDIAN_BENCH_V6=none|doc  IPv6 answers of the default adapter (see
#      bench/README.md): none = live probes, AAAA NODATA; doc = AAAA steered
#      to 2001:db8:10::N, health from the regions file
#   MERIDIAN_BIN=/path/to/meridian  use this binary instead of building one
#   MERIDIAN_NAME=meridian      row label
#   PROFILE=0                   1: after the rounds, measure CPU time and
#                               syscalls per query of every system, and
#                               Meridian's allocations, perf profile and
#                               strace -c (lib/profile.sh; PROFILE_DURATION=8)
set -uo pipefail
# The body is one { ... } block, so bash reads the whole script before
# running any of it: editing or checking out this file during a run does
# not change the run.
{
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LIB=$HERE/lib
. "$LIB/common.sh"

WORK=${WORK:-/tmp/dnsbench}
RESULTS_DIR=${RESULTS_DIR:-$HERE/results}
DURATION=${DURATION:-10}
RUNS=${RUNS:-5}
PORT=${PORT:-5300}
DNSPERF_OPTS=${DNSPERF_OPTS:--c 8 -T 1 -q 200 -t 2}
LAT_QPS=${LAT_QPS:-1000}
LAT_DURATION=${LAT_DURATION:-4}
QUERY_COUNT=${QUERY_COUNT:-20000}
QUERY_MIX=${QUERY_MIX:-full}
PEERS=${PEERS:-gdnsd pdns knot nsd}
SKIP_INSTALL=${SKIP_INSTALL:-0}
MERIDIAN_NAME=${MERIDIAN_NAME:-meridian}
PDNS_LUA_PROBE=${PDNS_LUA_PROBE:-1}
# Meridian is a peer by default (unset: the adapter; set but empty: left out).
MERIDIAN_BENCH_V6=${MERIDIAN_BENCH_V6:-none}
export MERIDIAN_BENCH_V6
if [ -z "${MERIDIAN_DNS_CMD+set}" ]; then
  MERIDIAN_DNS_CMD="$HERE/meridian-dns.sh run"
  MERIDIAN_DNS_SETUP=${MERIDIAN_DNS_SETUP-"$HERE/meridian-dns.sh setup"}
  MERIDIAN_VERSION_CMD=${MERIDIAN_VERSION_CMD-"$HERE/meridian-dns.sh version"}
  case $MERIDIAN_BENCH_V6 in
    none) MERIDIAN_KIND="geo (mmdb) + meridian probe; AAAA NODATA (see bench/README.md)" ;;
    doc) MERIDIAN_KIND="geo (mmdb), AAAA steered (2001:db8), health from the regions file" ;;
    *) echo "MERIDIAN_BENCH_V6=$MERIDIAN_BENCH_V6: want none or doc" >&2; exit 2 ;;
  esac
fi
MERIDIAN_KIND=${MERIDIAN_KIND:-product}

declare -A ADDR=([gdnsd]=127.0.0.11 [pdns]=127.0.0.12 [knot]=127.0.0.13 [nsd]=127.0.0.14
                 [coredns]=127.0.0.15 [$MERIDIAN_NAME]=127.0.0.16)
declare -A KIND=([gdnsd]="geoip+health" [pdns]="LUA ifurlup+pickclosest" [knot]="static"
                 [nsd]="static" [coredns]="static (file)" [$MERIDIAN_NAME]="$MERIDIAN_KIND")
HEALTH_PORT=8080
PROFILE=${PROFILE:-0}
if [ "$PROFILE" = 1 ]; then
  # Meridian's /metrics (Go allocation counters) for lib/profile.sh
  MERIDIAN_ADMIN=${ADDR[$MERIDIAN_NAME]}:9153
  export MERIDIAN_DNS_FLAGS="${MERIDIAN_DNS_FLAGS:-} --admin $MERIDIAN_ADMIN"
fi
REGION_ADDRS=(127.0.10.1 127.0.10.2 127.0.10.3)

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RAW=$RESULTS_DIR/dns-$STAMP
mkdir -p "$RAW"
exec > >(tee -a "$RAW/console.log") 2>&1

trap 'stop_all' EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ install
PKGS=(dnsperf gdnsd pdns-server pdns-backend-bind pdns-backend-geoip knot nsd nginx
      bind9-dnsutils mmdb-bin python3 curl)
if [ "$SKIP_INSTALL" != 1 ]; then
  ensure_pkgs "${PKGS[@]}" || { log "package install failed"; exit 1; }
fi
for b in dnsperf gdnsd pdns_server knotd nsd nginx dig python3; do
  command -v "$b" >/dev/null || { log "missing $b"; exit 1; }
done

SYSTEMS=()
for p in $PEERS; do SYSTEMS+=("$p"); done
if [ -n "${COREDNS_BIN:-}" ]; then
  if [ -x "$COREDNS_BIN" ]; then SYSTEMS+=(coredns); else log "COREDNS_BIN=$COREDNS_BIN is not executable; skipping CoreDNS"; fi
fi
[ -n "${MERIDIAN_DNS_CMD:-}" ] && SYSTEMS+=("$MERIDIAN_NAME")

{
  echo "date_utc: $(date -u '+%Y-%m-%d %H:%M:%S')"
  echo "host: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
  echo "dnsperf: $DNSPERF_OPTS -l $DURATION, runs=$RUNS; fixed-rate latency: -Q $LAT_QPS -l $LAT_DURATION"
  versions dnsperf gdnsd pdns-server pdns-backend-bind pdns-backend-geoip knot nsd nginx libmaxminddb0
  [ -n "${COREDNS_BIN:-}" ] && [ -x "${COREDNS_BIN:-}" ] && echo "coredns $("$COREDNS_BIN" -version 2>&1 | head -1)"
  [ -n "${MERIDIAN_VERSION_CMD:-}" ] && echo "$MERIDIAN_NAME $(bash -c "$MERIDIAN_VERSION_CMD" 2>&1 | head -1)"
} | tee "$RAW/versions.txt"

# ------------------------------------------------------------------ data
rm -rf "$WORK"
mkdir -p "$WORK"/{static,health/tmp,gdnsd/etc/zones,gdnsd/etc/geoip,gdnsd/run,gdnsd/state,pdns,knot/db,nsd,coredns,meridian}
python3 "$LIB/mkmmdb.py" "$WORK/geo.mmdb" 4000 || exit 1
python3 "$LIB/mkqueries.py" "$WORK/queries.bin" "$QUERY_COUNT" "$QUERY_MIX" || exit 1
# (the query list itself is deterministic: lib/mkqueries.py, fixed seed)
awk '{k=$1" "$2; if ($1 ~ /^nx/) k="NXDOMAIN "$2; if ($3 != "") k=k" +ECS"; c[k]++} END {for (k in c) printf "%6d  %s\n", c[k], k}' \
  "$WORK/queries.txt" | sort -rn > "$RAW/query-mix.txt"

SOA='@    IN SOA ns1.gslb.example. hostmaster.gslb.example. 2024060101 3600 600 604800 60'
cat > "$WORK/static/gslb.example.zone" <<EOF
\$ORIGIN gslb.example.
\$TTL 300
$SOA
@    IN NS  ns1.gslb.example.
ns1  IN A   127.0.0.53
www  30 IN A    127.0.10.1
www  30 IN AAAA ::ffff:127.0.10.1
EOF

cat > "$WORK/regions.json" <<EOF
{
  "zone": "gslb.example.",
  "name": "www.gslb.example.",
  "ttl": 30,
  "health_check": {"scheme": "http", "port": $HEALTH_PORT, "path": "/health", "host": "www.gslb.example",
                   "interval_s": 2, "timeout_s": 1, "up_after": 2, "down_after": 2},
  "regions": [
    {"name": "us-east", "lat": 39.04, "lon": -77.49, "a": "127.0.10.1", "aaaa": "::ffff:127.0.10.1", "healthy": true},
    {"name": "eu-west", "lat": 50.11, "lon": 8.68, "a": "127.0.10.2", "aaaa": "::ffff:127.0.10.2", "healthy": true},
    {"name": "ap-south", "lat": 1.35, "lon": 103.82, "a": "127.0.10.3", "aaaa": "::ffff:127.0.10.3", "healthy": false}
  ],
  "policy": "nearest healthy region by great-circle distance from the ECS subnet (else the source address), GeoIP2-City DB",
  "other_names": {"ns1.gslb.example.": "127.0.0.53"}
}
EOF

# ------------------------------------------------------------------ region health endpoints
H=$WORK/health
cat > "$H/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $H/nginx.pid;
error_log $H/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $H/tmp; proxy_temp_path $H/tmp; fastcgi_temp_path $H/tmp;
  uwsgi_temp_path $H/tmp; scgi_temp_path $H/tmp;
  server { listen 127.0.10.1:$HEALTH_PORT; listen 127.0.10.2:$HEALTH_PORT;
           location = /health { return 200 "ok\n"; } }
  server { listen 127.0.10.3:$HEALTH_PORT;
           location = /health { return 503 "down\n"; } }
}
EOF
start_bg health-endpoints "$H/out.log" nginx -p "$H" -c "$H/nginx.conf"

# ------------------------------------------------------------------ gdnsd
setup_gdnsd() {
  local d=$WORK/gdnsd
  cp "$WORK/geo.mmdb" "$d/etc/geoip/geo.mmdb"
  cat > "$d/etc/config" <<EOF
options => {
  listen => { ${ADDR[gdnsd]}:$PORT => { udp_threads => 2, tcp_threads => 1 } }
  run_dir => $d/run
  state_dir => $d/state
}
service_types => {
  region_http => {
    plugin => http_status, port => $HEALTH_PORT, url_path => /health, vhost => www.gslb.example,
    interval => 2, timeout => 1, up_thresh => 2, ok_thresh => 2, down_thresh => 2
  }
}
plugins => {
  geoip => {
    maps => {
      regions => {
        geoip2_db => geo.mmdb,
        datacenters => [ us-east, eu-west, ap-south ],
        auto_dc_coords => {
          us-east => [ 39.04, -77.49 ],
          eu-west => [ 50.11, 8.68 ],
          ap-south => [ 1.35, 103.82 ],
        }
      }
    }
    resources => {
      www => {
        map => regions,
        service_types => region_http,
        dcmap => {
          us-east => { addrs_v4 => [ 127.0.10.1 ], addrs_v6 => [ "::ffff:127.0.10.1" ] },
          eu-west => { addrs_v4 => [ 127.0.10.2 ], addrs_v6 => [ "::ffff:127.0.10.2" ] },
          ap-south => { addrs_v4 => [ 127.0.10.3 ], addrs_v6 => [ "::ffff:127.0.10.3" ] },
        }
      }
    }
  }
}
EOF
  cat > "$d/etc/zones/gslb.example" <<EOF
\$TTL 300
$SOA
@    IN NS  ns1.gslb.example.
ns1  IN A   127.0.0.53
www  30 DYNA geoip!www
EOF
  start_bg gdnsd "$d/out.log" gdnsd -c "$d/etc" start
}

# ------------------------------------------------------------------ PowerDNS
setup_pdns() {
  local d=$WORK/pdns
  local url="http://www.gslb.example:$HEALTH_PORT/health"
  cat > "$d/gslb.example.zone" <<EOF
\$ORIGIN gslb.example.
\$TTL 300
$SOA
@    IN NS  ns1.gslb.example.
ns1  IN A   127.0.0.53
www  30 IN LUA A    "ifurlup('$url', {{'127.0.10.1','127.0.10.2','127.0.10.3'}}, {selector='pickclosest'})"
www  30 IN LUA AAAA "ifurlup('$url', {{'::ffff:127.0.10.1','::ffff:127.0.10.2','::ffff:127.0.10.3'}}, {selector='pickclosest'})"
EOF
  if [ "$PDNS_LUA_PROBE" = 1 ]; then  # extra names for the cost breakdown (not in the query mix)
    cat >> "$d/gslb.example.zone" <<EOF
probe-plain      30 IN A   127.0.10.1
probe-luastatic  30 IN LUA A "'127.0.10.1'"
probe-luaclosest 30 IN LUA A "pickclosest({'127.0.10.1','127.0.10.2','127.0.10.3'})"
EOF
  fi
  cat > "$d/named.conf" <<EOF
options { directory "$d"; };
zone "gslb.example" { type master; file "$d/gslb.example.zone"; };
EOF
  # the geoip backend is only loaded so that pickclosest can geolocate
  # (it serves a dummy zone of its own)
  cat > "$d/geo-zones.yaml" <<EOF
domains:
- domain: geo.invalid
  ttl: 30
  records:
    geo.invalid:
      - soa: ns1.geo.invalid hostmaster.geo.invalid 1 7200 3600 86400 60
      - ns: ns1.geo.invalid
EOF
  cat > "$d/pdns.conf" <<EOF
launch=bind,geoip
bind-config=$d/named.conf
geoip-database-files=mmdb:$WORK/geo.mmdb
geoip-zones-file=$d/geo-zones.yaml
enable-lua-records=yes
edns-subnet-processing=yes
lua-health-checks-interval=2
local-address=${ADDR[pdns]}:$PORT
receiver-threads=1
distributor-threads=2
reuseport=yes
daemon=no
guardian=no
disable-syslog=yes
socket-dir=$d
webserver=no
api=no
# no security-status lookups through the system resolver (no off-box traffic)
security-poll-suffix=
loglevel=4
EOF
  start_bg pdns "$d/out.log" pdns_server --config-dir="$d"
}

# ------------------------------------------------------------------ knot
setup_knot() {
  local d=$WORK/knot
  cat > "$d/knot.conf" <<EOF
server:
    rundir: "$d"
    listen: ${ADDR[knot]}@$PORT
    udp-workers: 2
    tcp-workers: 1
    background-workers: 1
database:
    storage: "$d/db"
log:
  - target: stderr
    any: info
zone:
  - domain: gslb.example
    storage: "$WORK/static"
    file: "gslb.example.zone"
    journal-content: none
    zonefile-sync: -1
EOF
  start_bg knot "$d/out.log" knotd -c "$d/knot.conf"
}

# ------------------------------------------------------------------ nsd
setup_nsd() {
  local d=$WORK/nsd
  cat > "$d/nsd.conf" <<EOF
server:
    ip-address: ${ADDR[nsd]}@$PORT
    server-count: 2
    reuseport: yes
    username: ""
    chroot: ""
    zonesdir: "$WORK/static"
    database: ""
    pidfile: "$d/nsd.pid"
    xfrdfile: "$d/xfrd.state"
    zonelistfile: "$d/zone.list"
    xfrdir: "$d"
    logfile: "$d/nsd.log"
    verbosity: 1
    # Debian's NSD enables response rate limiting; a benchmark from one
    # source address would be throttled by it.
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: gslb.example
    zonefile: gslb.example.zone
EOF
  start_bg nsd "$d/out.log" nsd -d -c "$d/nsd.conf"
}

# ------------------------------------------------------------------ CoreDNS (optional)
setup_coredns() {
  local d=$WORK/coredns
  cat > "$d/Corefile" <<EOF
gslb.example:$PORT {
    bind ${ADDR[coredns]}
    file $WORK/static/gslb.example.zone
}
EOF
  start_bg coredns "$d/out.log" env GOMAXPROCS=2 "$COREDNS_BIN" -conf "$d/Corefile"
}

# ------------------------------------------------------------------ our product (optional)
setup_meridian() {
  local d=$WORK/$MERIDIAN_NAME
  mkdir -p "$d"
  local kv=("addr=${ADDR[$MERIDIAN_NAME]}" "port=$PORT" "mmdb=$WORK/geo.mmdb"
            "zonefile=$WORK/static/gslb.example.zone" "regions=$WORK/regions.json" "workdir=$d")
  export BENCH_DNS_ADDR=${ADDR[$MERIDIAN_NAME]} BENCH_DNS_PORT=$PORT BENCH_MMDB=$WORK/geo.mmdb \
         BENCH_ZONEFILE=$WORK/static/gslb.example.zone BENCH_REGIONS=$WORK/regions.json BENCH_WORKDIR=$d
  if [ -n "${MERIDIAN_DNS_SETUP:-}" ]; then
    log "running MERIDIAN_DNS_SETUP"
    (cd "$d" && timeout 600 bash -c "$(subst "$MERIDIAN_DNS_SETUP" "${kv[@]}")") > "$d/setup.log" 2>&1 \
      || { log "MERIDIAN_DNS_SETUP failed (see setup.log)"; cp "$d/setup.log" "$RAW/"; return 1; }
  fi
  local cmd
  cmd=$(subst "$MERIDIAN_DNS_CMD" "${kv[@]}")
  log "$MERIDIAN_NAME command: $cmd"
  start_bg "$MERIDIAN_NAME" "$d/out.log" bash -c "cd '$d' && exec $cmd"
}

for s in "${SYSTEMS[@]}"; do
  case $s in
    gdnsd|pdns|knot|nsd|coredns) "setup_$s" ;;
    "$MERIDIAN_NAME") setup_meridian || SYSTEMS=("${SYSTEMS[@]/$MERIDIAN_NAME}") ;;
    *) log "unknown peer $s"; exit 1 ;;
  esac
done
mapfile -t SYSTEMS < <(printf '%s\n' "${SYSTEMS[@]}" | grep -v '^$')

dig_q() { # addr name type [ecs]   (full response, for SOA/status checks)
  dig +norec +time=1 +tries=1 @"$1" -p "$PORT" "$2" "$3" ${4:++subnet=$4} 2>/dev/null
}
dig_ans() { # addr name type [ecs]  -> answer-section rdata, comma-separated
  dig +norec +time=1 +tries=1 +noall +answer @"$1" -p "$PORT" "$2" "$3" ${4:++subnet=$4} 2>/dev/null \
    | awk -v t="$3" '$4==t{print $5}' | paste -sd, -
}

# wait until every server answers the SOA
READY=()
for s in "${SYSTEMS[@]}"; do
  ok=0
  pid=$(pid_of "$s") || pid=""
  for ((i = 0; i < 100; i++)); do
    if dig_q "${ADDR[$s]}" gslb.example SOA | grep -q 'ns1.gslb.example.'; then ok=1; break; fi
    [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null && break   # it exited
    sleep 0.2
  done
  if [ $ok = 1 ]; then READY+=("$s"); else log "$s did not answer within 20 s; left out"; fi
done
SYSTEMS=("${READY[@]}")
[ ${#SYSTEMS[@]} -gt 0 ] || { log "no server is up"; exit 1; }

# ------------------------------------------------------------------ verify answers
python3 "$LIB/summarize.py" expect > "$WORK/expect.tsv"
# The AAAA a system is expected to answer for a region (by its A address):
# the v4-mapped form, unless the system's work dir has expect-aaaa.tsv
# ("A<TAB>AAAA", empty AAAA: NODATA), which the Meridian adapter writes.
declare -A EXPECT_AAAA=()
for s in "${SYSTEMS[@]}"; do
  f=$WORK/$s/expect-aaaa.tsv
  [ -f "$f" ] || continue
  while IFS=$'\t' read -r a6 x6; do EXPECT_AAAA[$s/$a6]=$x6; done < "$f"
done
expect_aaaa() { # system A-address
  if [ -n "${EXPECT_AAAA[$1/$2]+set}" ]; then echo "${EXPECT_AAAA[$1/$2]}"; else echo "::ffff:$2"; fi
}
verify() { # prints table, returns number of mismatches among steering systems
  local bad=0 s ecs exp label region a aaaa
  printf '| client (ECS) | expected (nearest healthy) |'; for s in "${SYSTEMS[@]}"; do printf ' %s |' "$s"; done; echo
  printf '|---|---|'; for s in "${SYSTEMS[@]}"; do printf -- '---|'; done; echo
  while IFS=$'\t' read -r ecs exp label region; do
    [ "$ecs" = "-" ] && ecs=""
    printf '| %s | %s %s |' "$label" "$region" "$exp"
    for s in "${SYSTEMS[@]}"; do
      a=$(dig_ans "${ADDR[$s]}" www.gslb.example A "$ecs")
      aaaa=$(dig_ans "${ADDR[$s]}" www.gslb.example AAAA "$ecs")
      local mark=""
      if [ "$a" != "$exp" ] || [ "$aaaa" != "$(expect_aaaa "$s" "$exp")" ]; then
        mark=" (differs)"
        case ${KIND[$s]} in static*) ;; *) bad=$((bad + 1)) ;; esac
      fi
      printf ' %s %s%s |' "${a:-none}" "${aaaa:-none}" "$mark"
    done
    echo
  done < "$WORK/expect.tsv"
  printf '| NXDOMAIN name | NXDOMAIN |'
  for s in "${SYSTEMS[@]}"; do
    printf ' %s |' "$(dig_q "${ADDR[$s]}" nx-verify.gslb.example A | sed -n 's/.*status: \([A-Z]*\),.*/\1/p')"
  done
  echo
  return $bad
}
log "waiting for health checks to converge (ap-south down)"
for ((i = 0; i < 30; i++)); do
  verify > "$WORK/verify.md" && break
  sleep 1
done
verify > "$RAW/verify.md"; nbad=$?
log "answers per system (static peers always answer us-east; 'differs' is expected for them):"
cat "$RAW/verify.md"
[ $nbad -gt 0 ] && log "WARNING: $nbad steered answers differ from the expected nearest healthy region"

# ------------------------------------------------------------------ benchmark
TSV=$RAW/throughput.tsv
LATTSV=$RAW/latency.tsv
echo -e "#system\tround\tqps\tavg_latency_s\tlost\tsent\tforeign_cpu_pct" > "$TSV"
echo -e "#system\tround\tp50_s\tp99_s\tmax_s\tanswered\tlost" > "$LATTSV"
n=${#SYSTEMS[@]}
log "warm-up: 2 s of the query mix against each system (not recorded)"
for s in "${SYSTEMS[@]}"; do
  # shellcheck disable=SC2086
  timeout 30 dnsperf -B -d "$WORK/queries.bin" -s "${ADDR[$s]}" -p "$PORT" -l 2 $DNSPERF_OPTS > /dev/null 2>&1
done
log "benchmark: ${SYSTEMS[*]}; $RUNS rounds x (${DURATION}s max-rate + ${LAT_DURATION}s at $LAT_QPS qps)"
for ((r = 1; r <= RUNS; r++)); do
  for ((k = 0; k < n; k++)); do
    s=${SYSTEMS[$(((k + r - 1) % n))]}   # rotate the order each round
    out=$RAW/dnsperf-$s-r$r.txt
    # A measurement during which other processes (builds, tests) used more
    # than MAX_FOREIGN_CPU % of the CPUs is repeated (lib/common.sh).
    for ((try = 0; try <= RETRIES; try++)); do
      wait_quiet
      foreign_start $(for g in "${!PNAMES[@]}"; do echo "${PIDS[g]}"; done)
      # shellcheck disable=SC2086
      timeout $((DURATION + 30)) dnsperf -B -d "$WORK/queries.bin" -s "${ADDR[$s]}" -p "$PORT" \
        -l "$DURATION" $DNSPERF_OPTS > "$out" 2>&1
      foreign_end
      awk -v f="$FOREIGN" -v m="$MAX_FOREIGN_CPU" 'BEGIN { exit !(f <= m) }' && break
      [ $try -lt "$RETRIES" ] && log "round $r $s: other processes used ${FOREIGN}% of the CPUs; repeating"
    done
    read -r qps avg lost sent < <(python3 "$LIB/summarize.py" dnsperf "$out")
    echo -e "$s\t$r\t$qps\t$avg\t$lost\t$sent\t$FOREIGN" >> "$TSV"
    lat=$RAW/latency-$s-r$r.txt
    timeout $((LAT_DURATION + 30)) dnsperf -B -d "$WORK/queries.bin" -s "${ADDR[$s]}" -p "$PORT" \
      -l "$LAT_DURATION" -Q "$LAT_QPS" -c 1 -q 100 -t 2 -v > "$lat" 2>&1
    read -r p50 p99 mx ans llost < <(python3 "$LIB/summarize.py" dnslat "$lat")
    echo -e "$s\t$r\t$p50\t$p99\t$mx\t$ans\t$llost" >> "$LATTSV"
    gzip -f "$lat"
    log "round $r $s: $(printf '%.0f' "$qps") q/s (others ${FOREIGN}% CPU), avg $(awk -v a="$avg" 'BEGIN{printf "%.2f", a*1000}') ms, lost $lost; @${LAT_QPS}qps p99 $(awk -v a="$p99" 'BEGIN{printf "%.3f", a*1000}') ms"
  done
done

# ------------------------------------------------------------------ PowerDNS LUA cost probe
if [ "$PDNS_LUA_PROBE" = 1 ] && [[ " ${SYSTEMS[*]} " == *" pdns "* ]]; then
  {
    echo "PowerDNS single-name probe (dnsperf $DNSPERF_OPTS -l 3, no ECS, A):"
    for nm in probe-plain probe-luastatic probe-luaclosest www; do
      echo "$nm.gslb.example. A" > "$WORK/probe-$nm.txt"
      # shellcheck disable=SC2086
      timeout 40 dnsperf -d "$WORK/probe-$nm.txt" -s "${ADDR[pdns]}" -p "$PORT" -l 3 $DNSPERF_OPTS \
        > "$RAW/pdns-probe-$nm.txt" 2>&1
      read -r qps _ lost _ < <(python3 "$LIB/summarize.py" dnsperf "$RAW/pdns-probe-$nm.txt")
      printf '    %-18s %8.0f q/s (lost %s)\n' "$nm" "$qps" "$lost"
    done
  } | tee "$RAW/pdns-probe.txt"
fi

# ------------------------------------------------------------------ profile (optional)
if [ "$PROFILE" = 1 ]; then
  . "$LIB/profile.sh"
  profile_all
fi

# ------------------------------------------------------------------ report
for s in "${SYSTEMS[@]}"; do
  case $s in
    gdnsd) cp "$WORK/gdnsd/out.log" "$RAW/server-gdnsd.log" ;;
    pdns) cp "$WORK/pdns/out.log" "$RAW/server-pdns.log" ;;
    knot) cp "$WORK/knot/out.log" "$RAW/server-knot.log" ;;
    nsd) cat "$WORK/nsd/out.log" "$WORK/nsd/nsd.log" > "$RAW/server-nsd.log" 2>/dev/null ;;
    *) cp "$WORK/$s/out.log" "$RAW/server-$s.log" 2>/dev/null ;;
  esac
done
{
  echo "## DNS peers ($(date -u '+%Y-%m-%d %H:%M UTC'), $RUNS runs x ${DURATION}s, dnsperf $DNSPERF_OPTS)"
  echo
  python3 "$LIB/summarize.py" dns-table "$TSV" "$LATTSV"
  echo
  python3 "$LIB/summarize.py" dns-ratios "$TSV" "$MERIDIAN_NAME"
  echo
  echo "Logic: $(for s in "${SYSTEMS[@]}"; do printf '%s=%s; ' "$s" "${KIND[$s]}"; done)"
  echo "Query mix $QUERY_MIX ($QUERY_COUNT queries, all with EDNS0):"
  sed 's/^/    /' "$RAW/query-mix.txt"
  [ -f "$RAW/pdns-probe.txt" ] && cat "$RAW/pdns-probe.txt"
  [ -f "$RAW/profile/summary.md" ] && { echo; cat "$RAW/profile/summary.md"; }
} > "$RAW/table.md"
cat "$RAW/table.md"
log "raw output in ${RAW#"$HERE"/}"
exit
}
