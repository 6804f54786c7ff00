#!/usr/bin/env bash
# Cold convergence of `edgedeck engine` on the embedded scale fleet.
#
#   scripts/measure-convergence.sh [NODES/GROUPS/APPS ...]   (default: 10000/500/50 1000/50/5)
#
# For each size: starts `edgedeck cluster --seed scale` (release build,
# simulator on, port 0), waits for its address, starts `edgedeck engine`
# against it and polls with kubectl every POLL seconds (default 0.5) until
#   status    every NodeGroup has a status written (`status.members` set), and
#   available every EdgeApplication lists a workload status for each of its
#             generated objects, all `Available` (`status.available` a/a).
# Prints one line per figure: seconds from engine start to each, the
# engine's RSS and CPU seconds then; or, after TIMEOUT seconds (default
# 300), how far it got. EDGEDECK_BIN runs another binary (e.g. an older
# build) instead of building this tree.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SIZES=("$@")
((${#SIZES[@]})) || SIZES=(10000/500/50 1000/50/5)
POLL=${POLL:-0.5}
TIMEOUT=${TIMEOUT:-300}

NAME=measure-convergence.sh
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

edgedeck_release_bin

work_dir edgedeck-conv

stop() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}'; }
rss_mib() { awk '$1 == "VmRSS:" {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.1f", ($14 + $15) / hz}' "/proc/$1/stat"; }

# progress KUBECONFIG: prints "groups_with_status groups available_workloads workloads complete_apps apps".
progress() {
    KUBECONFIG=$1 kubectl get nodegroups,edgeapplications -A -o json 2>/dev/null | jq -r '
        (.items | map(select(.kind == "NodeGroup"))) as $g
        | (.items | map(select(.kind == "EdgeApplication"))) as $a
        | ($a | map(.status.workloadStatus // [])) as $ws
        | ($a | map(select(
              ((.status.available // "") | split("/")) as $p
              | ($p | length) == 2 and $p[0] == $p[1] and ($p[1] | tonumber) > 0
                and ((.status.workloadStatus // []) | length) == ($p[1] | tonumber)
                and ((.status.workloadStatus // []) | all(.conditions == "Available"))
          )) | length) as $complete
        | [($g | map(select(.status.members != null)) | length), ($g | length),
           ($ws | map(map(select(.conditions == "Available")) | length) | add // 0),
           ($ws | map(length) | add // 0), $complete, ($a | length)]
        | map(tostring) | join(" ")' || echo "0 0 0 0 0 0"
}

printf '%s\n' "$(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg); $BIN"
for size in "${SIZES[@]}"; do
    IFS=/ read -r nodes groups apps <<<"$size"
    kubeconfig=$WORK/$nodes.kubeconfig
    RUST_LOG=warn "$BIN" cluster --seed scale --nodes "$nodes" --groups "$groups" --apps "$apps" \
        --listen 127.0.0.1:0 --kubeconfig-out "$kubeconfig" >"$WORK/cluster.out" 2>"$WORK/cluster.err" &
    cluster=$!
    PIDS+=("$cluster")
    for ((i = 0; i < 3000; i++)); do
        grep -qs '^server:' "$WORK/cluster.out" && break
        kill -0 "$cluster" 2>/dev/null || die "$size: the cluster exited: $(cat "$WORK/cluster.err")"
        sleep 0.1
    done
    grep -qs '^server:' "$WORK/cluster.out" || die "$size: no server address after 300 s"

    t0=$EPOCHREALTIME
    RUST_LOG=warn "$BIN" engine --kubeconfig "$kubeconfig" >"$WORK/engine.out" 2>&1 &
    engine=$!
    PIDS+=("$engine")
    status_at="" available_at="" last=""
    while :; do
        kill -0 "$engine" 2>/dev/null || die "$size: the engine exited: $(tail -5 "$WORK/engine.out")"
        read -r gs gt wa wt ac at <<<"$(progress "$kubeconfig")"
        last="$gs/$gt groups with status, $wa/$wt workload entries Available, $ac/$at apps complete"
        if [[ -z $status_at ]] && ((gt == groups && gs == gt)); then
            status_at=$(since "$t0")
            echo "$size status: every NodeGroup has status after $status_at s (engine rss $(rss_mib "$engine") MiB, cpu $(cpu_s "$engine") s)"
        fi
        if [[ -z $available_at ]] && ((at == apps && ac == at)); then
            available_at=$(since "$t0")
            echo "$size available: every EdgeApplication's workloads Available after $available_at s ($wa entries; engine rss $(rss_mib "$engine") MiB, cpu $(cpu_s "$engine") s)"
        fi
        if [[ -n $status_at && -n $available_at ]]; then
            echo "$size converged: $(awk -v a="$status_at" -v b="$available_at" 'BEGIN {print (a > b ? a : b)}') s"
            break
        fi
        if (($(since "$t0" | cut -d. -f1) >= TIMEOUT)); then
            echo "$size not converged after $TIMEOUT s: $last (engine rss $(rss_mib "$engine") MiB, cpu $(cpu_s "$engine") s)"
            break
        fi
        sleep "$POLL"
    done
    stop "$engine"
    stop "$cluster"
done
