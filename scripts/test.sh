#!/usr/bin/env bash
# README's test command: installs what the tests need on a Debian machine, then runs every
# test of the workspace (unit, property, simulation, CLI, browser and Docker end-to-end).
#   chromium     the report's browser tests (headless screenshots)
#   socat        the proxy benchmark's baseline
#   etcd-server  the etcd target (Debian's etcd 3.4, run unmodified)
# Extra arguments go to `cargo test` (e.g. `scripts/test.sh -p traitor-harness`).
set -euo pipefail
cd "$(dirname "$0")/.."

needed=()
command -v chromium >/dev/null || needed+=(chromium)
command -v socat >/dev/null || needed+=(socat)
[ -x /usr/bin/etcd ] || needed+=(etcd-server)
if [ ${#needed[@]} -gt 0 ]; then
    echo "== installing ${needed[*]} (Debian packages)"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${needed[@]}"
fi

cargo test --workspace "$@"
