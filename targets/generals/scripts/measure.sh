#!/usr/bin/env bash
# Measures how long one agreement instance takes on N local generals (all loyal), over TCP
# on loopback, and whether it finishes within its rounds: every general must log the
# commander's order (a value missing at a round's end would count as RETREAT).
#
# usage: scripts/measure.sh BIN N ALGO M [ROUND_MS] [ORDERS]
#   BIN: the generals-node binary; nodes use 127.0.0.<id+1>:7000 (peers) and :8080 (API).
# Prints one line: algo n m round_ms rounds orders, the slowest time from POST to the last
# general's decision, the frames refused as late, and whether every decision was right.
set -euo pipefail
BIN=$1 N=$2 ALGO=$3 M=$4 ROUND_MS=${5:-300} ORDERS=${6:-3}
HERE=$(cd "$(dirname "$0")/.." && pwd)
LOGS=$(mktemp -d)
KEYS=$(cargo run -q -p generals-node --example keygen -- "$N" measure)
PUB=$(echo "$KEYS" | tail -1)
PEERS=$(for i in $(seq 0 $((N - 1))); do printf '127.0.0.%d:7000,' $((i + 1)); done)
PEERS=${PEERS%,}
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$LOGS"; }
trap cleanup EXIT
for i in $(seq 0 $((N - 1))); do
  SK=$(echo "$KEYS" | awk -v i="$i" '$1 == i { print $2 }')
  "$BIN" --id "$i" --n "$N" --listen "127.0.0.$((i + 1)):7000" --api "127.0.0.$((i + 1)):8080" \
    --peers "$PEERS" --key "$SK" --pubkeys "$PUB" --algo "$ALGO" --m "$M" --round-ms "$ROUND_MS" \
    2>"$LOGS/node$i.log" &
  PIDS+=($!)
done
for i in $(seq 1 "$N"); do
  until curl -sf "127.0.0.$i:8080/health" >/dev/null; do sleep 0.05; done
done
sleep 0.5 # let the peer links connect
now_ms() { echo $(($(date +%s%N) / 1000000)); }
worst=0
right=yes
for k in $(seq 1 "$ORDERS"); do
  start=$(now_ms)
  curl -sf -XPOST 127.0.0.1:8080/ops -d "{\"client\":\"m\",\"req\":$k,\"op\":{\"f\":\"order\",\"value\":\"attack\"}}" >/dev/null
  for i in $(seq 1 "$N"); do
    until [ "$(curl -sf "127.0.0.$i:8080/status" | sed 's/.*"committed":\([0-9]*\).*/\1/')" -ge "$k" ]; do
      sleep 0.01
      if [ $(($(now_ms) - start)) -gt 120000 ]; then echo "order $k: general $((i - 1)) did not decide in 120 s" >&2; exit 1; fi
    done
  done
  took=$(($(now_ms) - start))
  [ "$took" -gt "$worst" ] && worst=$took
  for i in $(seq 1 "$N"); do
    curl -sf "127.0.0.$i:8080/log?from=$((k - 1))" | grep -q '"value":"retreat"' && right=no
  done
  sleep 0.2
done
late=$(cat "$LOGS"/node*.log | grep -c 'is over' || true)
echo "algo=$ALGO n=$N m=$M round_ms=$ROUND_MS rounds=$((M + 1)) orders=$ORDERS worst_ms=$worst budget_ms=$(((M + 1) * ROUND_MS)) late_frames=$late all_attack=$right"
