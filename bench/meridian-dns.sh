#!/usr/bin/env bash
# meridian-dns.sh - runs Meridian as a peer of bench/dns-peers.sh.
#
#   meridian-dns.sh setup    build bin/meridian and benchseed into
#                            $BENCH_WORKDIR/bin (or use $MERIDIAN_BIN) and
#                            write the policy (policy.json, expect-aaaa.tsv)
#   meridian-dns.sh run      start an embedded etcd (benchseed etcd), load
#                            the policy with `meridian policy apply`, start
#                            `meridian probe` (live health of the regions'
#                            endpoints, as gdnsd and PowerDNS check them),
#                            then run `meridian dns` in the foreground
#   meridian-dns.sh version  one line: repository revision and Go version
#
# dns-peers.sh calls it with the BENCH_* variables exported (BENCH_DNS_ADDR,
# BENCH_DNS_PORT, BENCH_MMDB, BENCH_ZONEFILE, BENCH_REGIONS, BENCH_WORKDIR)
# and stops it by signalling its process group; every child is also
# stopped by pid when this script exits.
#
# Environment:
#   MERIDIAN_BENCH_V6=none|doc   IPv6 answers (bench/cmd/benchseed/main.go):
#       none (default)  regions keep their IPv4 address only, health is live
#                       (meridian probe); AAAA for the steered name is NODATA
#       doc             regions also get 2001:db8:10::N and AAAA is steered;
#                       no prober (those addresses are not on this machine),
#                       an unhealthy region is "disabled"
#   MERIDIAN_BIN=/path/to/meridian   use this binary, do not build one
#   MERIDIAN_BENCH_ETCD_PORT=23790   client port of the embedded etcd (on
#                                    BENCH_DNS_ADDR, loopback)
#   MERIDIAN_DNS_FLAGS='...'         extra flags for `meridian dns`
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
V6=${MERIDIAN_BENCH_V6:-none}
W=${BENCH_WORKDIR:-$PWD}
BIN=$W/bin
MERIDIAN=${MERIDIAN_BIN:-$BIN/meridian}
ETCD_URL=http://${BENCH_DNS_ADDR:-127.0.0.16}:${MERIDIAN_BENCH_ETCD_PORT:-23790}

say() { printf '[%s] meridian-dns: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

case ${1:-} in
version)
  if [ -n "${MERIDIAN_BIN:-}" ]; then
    echo "$("$MERIDIAN_BIN" version) ($MERIDIAN_BIN), $(go version 2>/dev/null | awk '{print $3}')"
    exit 0
  fi
  rev=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
  dirty=""
  [ -n "$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null)" ] && dirty="+dirty"
  echo "$rev$dirty (built from the working tree), $(go version 2>/dev/null | awk '{print $3}')"
  ;;

setup)
  : "${BENCH_REGIONS:?}" "${BENCH_ZONEFILE:?}"
  mkdir -p "$BIN"
  if [ -z "${MERIDIAN_BIN:-}" ]; then
    command -v go >/dev/null || { say "go is not installed (Go 1.26, see README.md)"; exit 1; }
    say "building meridian from $REPO"
    (cd "$REPO" && go build -trimpath -o "$BIN/meridian" ./cmd/meridian)
  fi
  (cd "$REPO" && go build -trimpath -o "$BIN/benchseed" ./bench/cmd/benchseed)
  "$MERIDIAN" version
  "$BIN/benchseed" dns-policy --regions "$BENCH_REGIONS" --zonefile "$BENCH_ZONEFILE" --v6 "$V6" \
    --out "$W/policy.json" --expect-aaaa "$W/expect-aaaa.tsv"
  "$MERIDIAN" policy validate "$W/policy.json"
  ;;

run)
  : "${BENCH_DNS_ADDR:?}" "${BENCH_DNS_PORT:?}" "${BENCH_MMDB:?}"
  [ -x "$BIN/benchseed" ] && [ -f "$W/policy.json" ] || { say "run 'meridian-dns.sh setup' first"; exit 1; }
  # shellcheck source=lib/meridian-run.sh
  . "$HERE/lib/meridian-run.sh"
  meridian_etcd_policy

  if [ "$V6" = none ]; then
    "$MERIDIAN" probe --id bench --admin '' --state-dir "$W/probe" --log-format text \
      > "$W/probe.log" 2>&1 &
    CHILDREN+=($!)
    say "meridian probe started (log: probe.log)"
  fi

  say "meridian dns on $BENCH_DNS_ADDR:$BENCH_DNS_PORT"
  # shellcheck disable=SC2086
  "$MERIDIAN" dns --listen "$BENCH_DNS_ADDR:$BENCH_DNS_PORT" --geoip "$BENCH_MMDB" \
    --state-dir "$W" --admin '' --log-format text ${MERIDIAN_DNS_FLAGS:-} &
  CHILDREN+=($!)
  wait "${CHILDREN[-1]}"
  ;;

*)
  echo "usage: $0 setup|run|version  (called by bench/dns-peers.sh)" >&2
  exit 2
  ;;
esac
