#!/usr/bin/env bash
# Runs `traitor run` over seeds 1..N and prints, per seed, the overall verdict and each
# check's answer; the run folders keep the evidence. Bounded: N runs of --time each.
#
#   scripts/seed-sweep.sh N [traitor run arguments...]
#   scripts/seed-sweep.sh 10 --target targets/pbft --variant viewchange-drops-prepared --time 30s
set -euo pipefail
n=${1:?usage: scripts/seed-sweep.sh N [traitor run arguments...]}
shift
cd "$(dirname "$0")/.."
cargo build -q --release -p traitor-harness --bin traitor
found=0
for seed in $(seq 1 "$n"); do
    line=$(./target/release/traitor run "$@" --seed "$seed" --json 2>/dev/null | tail -1 || true)
    summary=$(python3 - "$line" <<'PY'
import json, sys
try:
    v = json.loads(sys.argv[1])
except ValueError:
    print("harness-error")
    sys.exit()
checks = " ".join("%s=%s" % (c["checker"], c["valid"]) for c in v["checks"])
print("valid=%s %s %s" % (v["valid"], checks, v["run_dir"]))
PY
)
    echo "seed $seed: $summary"
    case "$summary" in valid=False*) found=$((found + 1));; esac
done
echo "violations found in $found of $n seeds"
