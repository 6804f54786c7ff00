#!/usr/bin/env bash
# Leader failover of `edgedeck engine --leader-elect`: how long until the
# standby leads after the leader dies, and until it has reconciled everything.
#
#   scripts/measure-failover.sh [embedded|real] [ROUNDS]   (default: embedded 3)
#
# embedded: `edgedeck cluster --seed demo` (simulator on); real: the upstream
# control plane of the tests (`cargo run --example real_cluster`, binaries from
# scripts/testenv.sh) with the demo seed loaded by `edgedeck seed demo --with-nodes`.
# Two engines (release build, lease 15 s as deploy/ runs them, renewals every
# 5 s) with --metrics-listen. Each round kills the current leader — SIGKILL
# (a crash: the lease must run out) or SIGTERM (a clean stop: the lease is
# released) alternately — and polls the survivor's /metrics every 50 ms:
#   takeover   kill → `edgedeck_leader 1`;
#   converged  kill → its queue and in-flight are 0 after its first reconciles;
#   writes     `edgedeck_api_writes_total` of the new leader once converged,
#              excluding its Lease renewals: what it rewrote (0 = nothing
#              already in sync was written again).
# The killed engine is started again as the next standby.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODE=${1:-embedded}
ROUNDS=${2:-3}
LEASE=${LEASE:-15s}

NAME=measure-failover.sh
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

edgedeck_release_bin

work_dir edgedeck-failover

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
metrics() { curl -sf --max-time 1 "http://127.0.0.1:$1/metrics" || true; }
value() { # value PORT SERIES-PREFIX: sum of matching samples
    metrics "$1" | awk -v p="$2" 'index($0, p) == 1 { s += $NF } END { print s + 0 }'
}

KUBECONFIG_FILE=$WORK/kubeconfig
case $MODE in
    embedded)
        "$BIN" cluster --listen 127.0.0.1:0 --seed demo --kubeconfig-out "$KUBECONFIG_FILE" \
            >"$WORK/cluster.out" 2>"$WORK/cluster.err" &
        PIDS+=($!)
        ;;
    real)
        export KUBEBUILDER_ASSETS=${KUBEBUILDER_ASSETS:-$(bash "$ROOT/scripts/testenv.sh")}
        (cd "$ROOT" && cargo build --quiet --example real_cluster)
        "$TARGET/debug/examples/real_cluster" "$KUBECONFIG_FILE" >"$WORK/cluster.out" 2>"$WORK/cluster.err" &
        PIDS+=($!)
        ;;
    *) die "mode must be embedded or real" ;;
esac
for _ in $(seq 1 600); do [[ -s $KUBECONFIG_FILE ]] && break; sleep 0.2; done
[[ -s $KUBECONFIG_FILE ]] || die "the cluster did not come up: $(cat "$WORK/cluster.err")"
if [[ $MODE == real ]]; then
    "$BIN" seed demo --kubeconfig "$KUBECONFIG_FILE" --with-nodes >/dev/null
fi

declare -A PID PORT
start_engine() { # start_engine NAME
    local port; port=$(free_port)
    RUST_LOG=warn "$BIN" engine --kubeconfig "$KUBECONFIG_FILE" --leader-elect \
        --lease-namespace default --lease-duration "$LEASE" --identity "$1" \
        --metrics-listen "127.0.0.1:$port" >"$WORK/$1.out" 2>>"$WORK/$1.err" &
    PID[$1]=$!; PORT[$1]=$port; PIDS+=($!)
}
leader_of() { # prints the engine that leads, if any
    for name in a b; do
        [[ $(value "${PORT[$name]}" 'edgedeck_leader ') == 1 ]] && { echo "$name"; return; }
    done
    return 0
}
settled() { # settled NAME: leads, has reconciled, nothing queued or in flight
    local m; m=$(metrics "${PORT[$1]}")
    awk '/^edgedeck_leader / { l = $NF }
         /^edgedeck_reconciles_total\{controller="edgeapplication"\}/ { r = $NF }
         /^edgedeck_queue_depth/ { q += $NF } /^edgedeck_reconciles_in_flight/ { f += $NF }
         END { exit !(l == 1 && r > 0 && q == 0 && f == 0) }' <<<"$m"
}

start_engine a
start_engine b
for _ in $(seq 1 600); do
    leader=$(leader_of); [[ -n $leader ]] && settled "$leader" && break; sleep 0.1
done
[[ -n ${leader:-} ]] || die "no engine leads"

commit=$(cd "$ROOT" && git rev-parse --short HEAD)
echo "mode=$MODE lease=$LEASE commit=$commit $(date -u +%Y-%m-%dT%H:%MZ)"
printf '%-6s %-8s %-10s %-11s %s\n' round signal takeover converged rewrites
for round in $(seq 1 "$ROUNDS"); do
    leader=$(leader_of)
    [[ -n $leader ]] || die "round $round: no leader"
    survivor=$([[ $leader == a ]] && echo b || echo a)
    signal=$([[ $((round % 2)) == 1 ]] && echo KILL || echo TERM)
    killed_at=$(now)
    kill -s "$signal" "${PID[$leader]}"
    took="" converged=""
    for _ in $(seq 1 1200); do
        if [[ -z $took && $(value "${PORT[$survivor]}" 'edgedeck_leader ') == 1 ]]; then
            took=$(now)
        fi
        if [[ -n $took ]] && settled "$survivor"; then converged=$(now); break; fi
        sleep 0.05
    done
    [[ -n $converged ]] || die "round $round: $survivor did not take over within 60 s"
    rewrites=$(metrics "${PORT[$survivor]}" | awk '/^edgedeck_api_writes_total/ && !/resource="(leases|events)"/ {
            s += $NF; match($0, /resource="[^"]*",verb="[^"]*"/); w = w " " substr($0, RSTART, RLENGTH) "=" $NF }
        END { print s + 0 w }')
    printf '%-6s %-8s %-10s %-11s %s\n' "$round" "SIG$signal" \
        "$(echo "$took - $killed_at" | bc | xargs printf '%.2fs')" \
        "$(echo "$converged - $killed_at" | bc | xargs printf '%.2fs')" "$rewrites"
    wait "${PID[$leader]}" 2>/dev/null || true
    start_engine "$leader"
    sleep 2
done
