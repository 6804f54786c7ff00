#!/usr/bin/env bash
# Memory of the embedded cluster holding the scale seed.
#
#   scripts/measure-memory.sh [NODES GROUPS APPS]     (default: 10000 500 50)
#
# Starts `edgedeck cluster --seed scale` (release build, memory only, port 0)
# three ways and reads VmRSS / VmHWM from /proc/<pid>/status:
#   no-simulate   `--no-simulate`: the API server and its objects only;
#   simulate      the default: plus the fleet simulator (kubelet, scheduler,
#                 workload and endpoint controllers);
#   simulate+engine  the same, with `edgedeck engine` reconciling every
#                 NodeGroup and EdgeApplication (pods, Deployments and
#                 EndpointSlices then exist); the engine's RSS is printed too.
# For each: seconds until the server printed its address, RSS then, and RSS
# and peak (VmHWM) after SETTLE seconds (default 30; env SETTLE), with the
# cluster's RSS every 10 s. The engine is stopped early if its RSS passes
# ENGINE_LIMIT_MIB (default 4096).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N_NODES=${1:-10000}
N_GROUPS=${2:-500}
N_APPS=${3:-50}
SETTLE=${SETTLE:-30}
# The engine grows without bound on this seed (see BENCHMARKS.md): a safety stop.
ENGINE_LIMIT_MIB=${ENGINE_LIMIT_MIB:-4096}

NAME=measure-memory.sh
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

edgedeck_release_bin

work_dir edgedeck-mem

kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
mib() { awk -v v="$1" 'BEGIN {printf "%.0f MiB", v / 1024}'; }

# start_cluster NAME [FLAGS...]: starts it, sets CLUSTER_PID, waits for its address.
start_cluster() {
    local name=$1; shift
    local out=$WORK/$name.out
    local t0=$EPOCHREALTIME
    XDG_STATE_HOME=$WORK/state RUST_LOG=warn "$BIN" cluster --seed scale \
        --nodes "$N_NODES" --groups "$N_GROUPS" --apps "$N_APPS" \
        --listen 127.0.0.1:0 --kubeconfig-out "$WORK/$name.kubeconfig" "$@" \
        >"$out" 2>"$WORK/$name.err" &
    CLUSTER_PID=$!
    PIDS+=("$CLUSTER_PID")
    local waited=0
    until grep -q '^server:' "$out"; do
        kill -0 "$CLUSTER_PID" 2>/dev/null || { cat "$WORK/$name.err" >&2; die "$name: the cluster exited"; }
        ((waited++ < 3000)) || die "$name: no server address after 300 s"
        sleep 0.1
    done
    READY_S=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}')
}

stop() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

printf '%s\n' "scale seed: $N_NODES nodes, $N_GROUPS groups, $N_APPS apps; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-16s %8s %12s %14s %14s %s\n' mode ready_s rss_ready "rss_+${SETTLE}s" peak_hwm extra

for mode in no-simulate simulate simulate+engine; do
    flags=()
    [[ $mode == no-simulate ]] && flags=(--no-simulate)
    start_cluster "$mode" "${flags[@]}"
    rss_ready=$(kib "$CLUSTER_PID" VmRSS)
    extra=""
    engine_pid=""
    if [[ $mode == simulate+engine ]]; then
        XDG_STATE_HOME=$WORK/state RUST_LOG=warn "$BIN" engine --kubeconfig "$WORK/$mode.kubeconfig" \
            >"$WORK/engine.out" 2>&1 &
        engine_pid=$!
        PIDS+=("$engine_pid")
    fi
    # Sample every 10 s; stop the engine early if it passes ENGINE_LIMIT_MIB.
    series=""
    for ((t = 1; t <= SETTLE; t++)); do
        sleep 1
        kill -0 "$CLUSTER_PID" 2>/dev/null || die "$mode: the cluster exited"
        ((t % 10 == 0)) && series="$series $(($(kib "$CLUSTER_PID" VmRSS) / 1024))"
        if [[ -n $engine_pid ]] && (($(kib "$engine_pid" VmRSS) > ENGINE_LIMIT_MIB * 1024)); then
            extra="engine passed ${ENGINE_LIMIT_MIB} MiB after ${t}s, stopped; "
            break
        fi
    done
    rss=$(kib "$CLUSTER_PID" VmRSS)
    hwm=$(kib "$CLUSTER_PID" VmHWM)
    if [[ -n $engine_pid ]]; then
        kill -0 "$engine_pid" 2>/dev/null || { cat "$WORK/engine.out" >&2; die "the engine exited"; }
        extra="${extra}engine rss $(mib "$(kib "$engine_pid" VmRSS)"), peak $(mib "$(kib "$engine_pid" VmHWM)")"
        if command -v kubectl >/dev/null; then
            deployments=$(KUBECONFIG=$WORK/$mode.kubeconfig kubectl get deployments -A --no-headers 2>/dev/null | wc -l)
            pods=$(KUBECONFIG=$WORK/$mode.kubeconfig kubectl get pods -A --no-headers 2>/dev/null | wc -l)
            extra="$extra; $deployments deployments, $pods pods"
        fi
        stop "$engine_pid"
    fi
    printf '%-16s %8s %12s %14s %14s %s\n' "$mode" "$READY_S" "$(mib "$rss_ready")" "$(mib "$rss")" "$(mib "$hwm")" "cluster MiB every 10 s:$series; $extra"
    stop "$CLUSTER_PID"
done
