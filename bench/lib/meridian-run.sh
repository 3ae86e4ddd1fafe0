# Shared by meridian-dns.sh and meridian-proxy.sh (sourced, not run): start
# the children a benchmark run needs and stop them all on exit.
# Expects: say(), $W (work dir), $BIN (benchseed), $ETCD_URL, $MERIDIAN.

CHILDREN=()
meridian_cleanup() {
  local p
  for p in "${CHILDREN[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${CHILDREN[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap meridian_cleanup EXIT
trap 'exit 143' TERM INT

# meridian_etcd_policy starts the embedded etcd (benchseed), waits up to
# 30 s for it, and applies $W/policy.json with `meridian policy apply`.
meridian_etcd_policy() {
  rm -rf "$W/etcd"
  "$BIN/benchseed" etcd --dir "$W/etcd" --client-url "$ETCD_URL" > "$W/etcd.log" 2>&1 &
  CHILDREN+=($!)
  local i
  for ((i = 0; i < 150; i++)); do
    grep -q '^ready' "$W/etcd.log" 2>/dev/null && break
    kill -0 "${CHILDREN[0]}" 2>/dev/null || { say "etcd exited:"; cat "$W/etcd.log" >&2; exit 1; }
    sleep 0.2
  done
  grep -q '^ready' "$W/etcd.log" || { say "etcd did not start in 30 s"; exit 1; }
  say "etcd at $ETCD_URL"
  export MERIDIAN_ETCD_ENDPOINTS=$ETCD_URL
  "$MERIDIAN" policy apply "$W/policy.json" >&2
}
