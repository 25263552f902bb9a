#!/usr/bin/env bash
# Runs `traitor run` for every (variant, adversary) pair over seeds 1..S and prints a table
# of how many seeds ended in a violation. Bounded: |variants| x |adversaries| x S runs.
#
#   scripts/adversary-matrix.sh SEEDS "VARIANTS" "ADVERSARIES" [traitor run arguments...]
#   VARIANTS: space-separated variant names, "correct" for the correct code.
#   ADVERSARIES: space-separated; "all" composes every built-in; "a+b" composes a and b.
set -euo pipefail
seeds=${1:?usage: scripts/adversary-matrix.sh SEEDS VARIANTS ADVERSARIES [run arguments...]}
variants=$2
adversaries=$3
shift 3
cd "$(dirname "$0")/.."
cargo build -q --release -p traitor-harness --bin traitor
all="corrupt mutate replay:as_own=true impersonate omit equivocate-sign"
printf "%-32s %-24s %s\n" variant adversary "violations/seeds (checks violated)"
for variant in $variants; do
    for adversary in $adversaries; do
        specs=()
        list=$adversary
        [ "$adversary" = all ] && list=${all// /+}
        IFS=+ read -ra parts <<< "$list"
        for p in "${parts[@]}"; do specs+=(--adversary "$p"); done
        vflag=()
        [ "$variant" = correct ] || vflag=(--variant "$variant")
        found=0
        broken=""
        for seed in $(seq 1 "$seeds"); do
            line=$(./target/release/traitor run "${vflag[@]}" "${specs[@]}" "$@" --seed "$seed" --json 2>/dev/null | tail -1 || true)
            verdict=$(python3 - "$line" <<'PY'
import json, sys
try:
    v = json.loads(sys.argv[1])
except ValueError:
    print("error -")
    sys.exit()
bad = [c["checker"] for c in v["checks"] if c["valid"] is False]
print(("violated " if v["valid"] is False else "ok ") + (",".join(bad) or "-"))
PY
)
            case "$verdict" in violated*) found=$((found + 1)); broken="$broken ${verdict#violated }";; error*) broken="$broken harness-error";; esac
        done
        printf "%-32s %-24s %s/%s (%s)\n" "$variant" "$adversary" "$found" "$seeds" "${broken# }"
    done
done
