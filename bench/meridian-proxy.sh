#!/usr/bin/env bash
# meridian-proxy.sh - runs Meridian's regional proxy as a peer of
# bench/proxy-peers.sh.
#
#   meridian-proxy.sh setup    build bin/meridian and benchseed into
#                              $BENCH_WORKDIR/bin (or use $MERIDIAN_BIN) and
#                              write the policy: region "bench" whose proxy
#                              is the listen address, pool "web" over both
#                              backends, round robin, HTTP check every 2 s
#                              (rise 2, fall 2, as HAProxy's in the script)
#   meridian-proxy.sh run      embedded etcd, `meridian policy apply`, then
#                              `meridian proxy` in the foreground
#   meridian-proxy.sh version  one line: repository revision and Go version
#
# proxy-peers.sh exports BENCH_LISTEN BENCH_BACKEND1 BENCH_BACKEND2
# BENCH_HEALTH_PATH BENCH_WORKDIR and stops it by signalling its process
# group; every child is also stopped by pid when this script exits.
#
# Environment:
#   MERIDIAN_BIN=/path/to/meridian   use this binary, do not build one
#   MERIDIAN_BENCH_ETCD_PORT=23790   client port of the embedded etcd (on
#                                    the listen address, loopback)
#   MERIDIAN_PROXY_FLAGS='...'       extra flags for `meridian proxy`
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
W=${BENCH_WORKDIR:-$PWD}
BIN=$W/bin
MERIDIAN=${MERIDIAN_BIN:-$BIN/meridian}
LISTEN=${BENCH_LISTEN:-127.0.3.9:8080}
ETCD_URL=http://${LISTEN%:*}:${MERIDIAN_BENCH_ETCD_PORT:-23790}

say() { printf '[%s] meridian-proxy: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

case ${1:-} in
version)
  exec "$HERE/meridian-dns.sh" version
  ;;

setup)
  : "${BENCH_BACKEND1:?}" "${BENCH_BACKEND2:?}"
  mkdir -p "$BIN"
  if [ -z "${MERIDIAN_BIN:-}" ]; then
    command -v go >/dev/null || { say "go is not installed (Go 1.26, see README.md)"; exit 1; }
    say "building meridian from $REPO"
    (cd "$REPO" && go build -trimpath -o "$BIN/meridian" ./cmd/meridian)
  fi
  (cd "$REPO" && go build -trimpath -o "$BIN/benchseed" ./bench/cmd/benchseed)
  "$MERIDIAN" version
  "$BIN/benchseed" proxy-policy --listen "$LISTEN" --backend "$BENCH_BACKEND1" --backend "$BENCH_BACKEND2" \
    --health-path "${BENCH_HEALTH_PATH:-/health}" --out "$W/policy.json"
  "$MERIDIAN" policy validate "$W/policy.json"
  ;;

run)
  [ -x "$BIN/benchseed" ] && [ -f "$W/policy.json" ] || { say "run 'meridian-proxy.sh setup' first"; exit 1; }
  # shellcheck source=lib/meridian-run.sh
  . "$HERE/lib/meridian-run.sh"
  meridian_etcd_policy

  say "meridian proxy on $LISTEN"
  # --drain 0: the benchmark stops it; no clients to drain for.
  # shellcheck disable=SC2086
  "$MERIDIAN" proxy --region bench --advertise "${LISTEN%:*}" --listen "$LISTEN" --drain 0 \
    --state-dir "$W" --admin '' --log-format text ${MERIDIAN_PROXY_FLAGS:-} &
  CHILDREN+=($!)
  wait "${CHILDREN[-1]}"
  ;;

*)
  echo "usage: $0 setup|run|version  (called by bench/proxy-peers.sh)" >&2
  exit 2
  ;;
esac
