#!/usr/bin/env bash
# The live console's idle CPU, first-frame time and memory (release build).
#
#   scripts/measure-console.sh [IDLE_SECONDS]      (default 30)
#
# Each console runs in a private tmux server (own socket, 140x40) with its
# output also copied to a file (tmux pipe-pane), so "bytes written while
# idle" shows whether it redraws when nothing changed. CPU is utime+stime
# of the process (all threads) from /proc/<pid>/stat over the idle window,
# taken after the screen has settled; no key is pressed.
#
#   1. embedded   `edgedeck --embedded`: one process hosting the console, the
#                 embedded cluster, the fleet simulator and the engine.
#   2. demo       `edgedeck cluster` (demo seed) + `edgedeck engine
#                 --leader-elect` + `edgedeck --kubeconfig`: the console
#                 alone (its auto engine sees the lease held and stays off).
#   3. scale      `edgedeck cluster --seed scale --nodes 10000 --groups 500
#                 --apps 50` + `edgedeck --kubeconfig --engine off`: first-frame
#                 time (launch to the first non-empty screen, and to the first
#                 screen listing a region), RSS after settling, and idle CPU.
#                 No engine runs: on this seed `edgedeck engine` grows by
#                 about 240 MB/s (see BENCHMARKS.md), so the console shows the
#                 seeded objects as they are, without generated Deployments.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IDLE=${1:-30}
COLS=140
ROWS=40

NAME=measure-console.sh
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
log() { echo "$NAME: $*" >&2; }

command -v tmux >/dev/null || die "tmux is missing"
edgedeck_release_bin

work_dir edgedeck-console
SOCK=$WORK/tmux.sock
# The console's tmux server goes first, then the processes and the directory.
stop_all() {
    tmux -S "$SOCK" kill-server 2>/dev/null || true
    cleanup
}
trap stop_all EXIT
tm() { tmux -S "$SOCK" "$@"; }
export XDG_STATE_HOME=$WORK/state RUST_LOG=warn

TICK=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
mib() { awk -v v="$1" 'BEGIN {printf "%.0f MiB", v / 1024}'; }
pct() { awk -v t="$1" -v s="$2" -v hz="$TICK" 'BEGIN {printf "%.1f%%", 100 * t / hz / s}'; }
since() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b - a}'; }

screen() { tm capture-pane -p -t "$1"; }

# wait_for SESSION TEXT SECONDS
wait_for() {
    local waited=0
    until screen "$1" | grep -qF -- "$2"; do
        ((waited++ < $3 * 20)) || { screen "$1" >&2; die "$1: timed out waiting for '$2'"; }
        sleep 0.05
    done
}

# settle SESSION: until the screen (ages aside) is unchanged for 3 s; sets
# LAST_CHANGE to when it last changed.
settle() {
    local last="" now stable=0 waited=0
    while ((stable < 30)); do
        now=$(screen "$1" | sed -E 's/\b[0-9]+[smhd]\b/AGE/g')
        if [[ $now == "$last" ]]; then
            ((stable++)) || true
        else
            stable=0 last=$now LAST_CHANGE=$EPOCHREALTIME
        fi
        ((waited++ < 1200)) || die "$1: the screen never settled"
        sleep 0.1
    done
}

# console SESSION ARGS...: starts the console in tmux; sets CONSOLE_PID and T0.
console() {
    local session=$1; shift
    T0=$EPOCHREALTIME
    # exec: the pane's process is the console itself.
    tm -f /dev/null new-session -d -s "$session" -x "$COLS" -y "$ROWS" \
        "exec env TERM=xterm-256color $(printf '%q ' "$BIN" "$@")"
    tm pipe-pane -t "$session" -o "cat >>'$WORK/$session.tty'"
    CONSOLE_PID=$(tm display-message -p -t "$session" '#{pane_pid}')
}

# idle SESSION PID...: CPU of each pid and bytes the console wrote over IDLE seconds.
idle() {
    local session=$1; shift
    local before=() pid bytes0 bytes1 i=0
    for pid in "$@"; do before+=("$(cpu_ticks "$pid")"); done
    bytes0=$(stat -c %s "$WORK/$session.tty" 2>/dev/null || echo 0)
    sleep "$IDLE"
    bytes1=$(stat -c %s "$WORK/$session.tty" 2>/dev/null || echo 0)
    IDLE_CPU=()
    for pid in "$@"; do
        IDLE_CPU+=("$(pct $(($(cpu_ticks "$pid") - before[i])) "$IDLE")")
        i=$((i + 1))
    done
    IDLE_BYTES=$((bytes1 - bytes0))
}

# cluster NAME ENGINE FLAGS...: starts `edgedeck cluster` and, when ENGINE is
# "engine", `edgedeck engine` on it; sets KUBECONFIG_PATH, CLUSTER_PID, ENGINE_PID.
cluster() {
    local name=$1 engine=$2; shift 2
    KUBECONFIG_PATH=$WORK/$name.kubeconfig
    "$BIN" cluster --listen 127.0.0.1:0 --kubeconfig-out "$KUBECONFIG_PATH" "$@" \
        >"$WORK/$name.out" 2>"$WORK/$name.err" &
    CLUSTER_PID=$!
    PIDS+=("$CLUSTER_PID")
    local waited=0
    until grep -q '^server:' "$WORK/$name.out"; do
        kill -0 "$CLUSTER_PID" 2>/dev/null || { cat "$WORK/$name.err" >&2; die "$name: the cluster exited"; }
        ((waited++ < 3000)) || die "$name: no server address after 300 s"
        sleep 0.1
    done
    ENGINE_PID=""
    [[ $engine == engine ]] || return 0
    "$BIN" engine --kubeconfig "$KUBECONFIG_PATH" --leader-elect >"$WORK/$name.engine" 2>&1 &
    ENGINE_PID=$!
    PIDS+=("$ENGINE_PID")
}

echo "$(nproc) cores; load at start $(cut -d' ' -f1-3 /proc/loadavg); idle window ${IDLE}s"

# 1. embedded
log "embedded: starting"
console embedded --embedded --kubeconfig-out "$WORK/embedded.kubeconfig"
wait_for embedded "● connected" 60
wait_for embedded "(ungrouped)" 60
settle embedded
idle embedded "$CONSOLE_PID"
echo "embedded (console+cluster+simulator+engine): idle CPU ${IDLE_CPU[0]}, tty bytes while idle ${IDLE_BYTES}, RSS $(mib "$(kib "$CONSOLE_PID" VmRSS)")"
tm kill-session -t embedded

# 2. demo cluster, separate processes
log "demo: starting cluster and engine"
cluster demo engine --seed demo
sleep 5 # the engine takes the lease, so the console's auto engine stays off
console demo --kubeconfig "$KUBECONFIG_PATH"
wait_for demo "(ungrouped)" 60
settle demo
idle demo "$CONSOLE_PID" "$CLUSTER_PID" "$ENGINE_PID"
echo "demo, console alone: idle CPU ${IDLE_CPU[0]}, tty bytes while idle ${IDLE_BYTES}, RSS $(mib "$(kib "$CONSOLE_PID" VmRSS)"); cluster+simulator ${IDLE_CPU[1]}, engine ${IDLE_CPU[2]}"
tm kill-session -t demo
kill "$ENGINE_PID" "$CLUSTER_PID"; wait "$ENGINE_PID" "$CLUSTER_PID" 2>/dev/null || true

# 3. scale seed
log "scale: starting the cluster (10,000 nodes)"
cluster scale no-engine --seed scale --nodes 10000 --groups 500 --apps 50
console scale --kubeconfig "$KUBECONFIG_PATH" --engine off
first=""
until [[ -n $(screen scale | tr -d ' \n') ]]; do sleep 0.02; done
first=$(since "$T0" "$EPOCHREALTIME")
wait_for scale "region-0000" 120
data=$(since "$T0" "$EPOCHREALTIME")
echo "scale, console: first non-empty screen ${first}s, first screen with regions ${data}s after launch"
settle scale
echo "scale, console: last change of the screen while loading $(since "$T0" "$LAST_CHANGE")s after launch"
echo "scale, console after settling: RSS $(mib "$(kib "$CONSOLE_PID" VmRSS)"), peak $(mib "$(kib "$CONSOLE_PID" VmHWM)")"
idle scale "$CONSOLE_PID" "$CLUSTER_PID"
echo "scale, console alone: idle CPU ${IDLE_CPU[0]}, tty bytes while idle ${IDLE_BYTES}; cluster+simulator ${IDLE_CPU[1]}"
echo "load at end $(cut -d' ' -f1-3 /proc/loadavg)"
