#!/usr/bin/env bash
# Regenerates screenshots/*.png from a real run of `edgedeck --embedded`.
#
#   scripts/screenshots.sh [OUT_DIR]        (default: screenshots/)
#
# Builds the binary, runs the console on the embedded demo fleet in a private
# tmux server (its own socket, 140x40), waits until the simulated fleet has
# settled, walks through the main views with the console's own keys, captures
# each screen with its colours (`tmux capture-pane -e -p`) and renders it to
# PNG with scripts/ansi_to_png.py. Nothing is written to the cluster except
# the simulator's region-offline switch (`O`), shown last; the override form
# and its diff preview are cancelled, never saved.
#
# Needs: cargo, tmux, python3 with Pillow, the DejaVu Sans Mono font
# (/usr/share/fonts/truetype/dejavu). Missing Pillow is installed with pip,
# a missing font or tmux with apt-get when running as root; otherwise the
# script stops and says what to install.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${1:-$ROOT/screenshots}
COLS=140
ROWS=40
FONT=/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf
FONT_BOLD=/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf

die() { echo "screenshots.sh: $*" >&2; exit 1; }
log() { echo "screenshots.sh: $*" >&2; }

apt_install() {
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        log "installing $* with apt-get"
        apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null \
            || die "apt-get install $* failed"
    else
        die "$* is missing: install it (Debian/Ubuntu: sudo apt-get install $*)"
    fi
}

# --- dependencies -----------------------------------------------------------
command -v cargo >/dev/null || die "cargo is missing (https://rustup.rs)"
command -v python3 >/dev/null || die "python3 is missing"
command -v tmux >/dev/null || apt_install tmux
if [[ ! -f $FONT || ! -f $FONT_BOLD ]]; then
    apt_install fonts-dejavu-core
    [[ -f $FONT && -f $FONT_BOLD ]] || die "fonts-dejavu-core installed but $FONT is still missing"
fi
if ! python3 -c 'import PIL' 2>/dev/null; then
    log "installing Pillow with pip"
    python3 -m pip install --quiet pillow || die "pip install pillow failed; install Pillow for $(command -v python3)"
    python3 -c 'import PIL' 2>/dev/null || die "Pillow installed but not importable by $(command -v python3)"
fi

# --- build ------------------------------------------------------------------
log "building edgedeck"
(cd "$ROOT" && cargo build --quiet --bin edgedeck)
BIN=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps 2>/dev/null \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/edgedeck
[[ -x $BIN ]] || die "no binary at $BIN"

# --- private tmux server ----------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/edgedeck-shots.XXXXXX")
SOCK=$WORK/tmux.sock
cleanup() {
    tmux -S "$SOCK" kill-server 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
tm() { tmux -S "$SOCK" "$@"; }

# XDG_STATE_HOME keeps the console's log file out of the user's home.
# The shell around the console keeps the pane (and any error) after it exits.
tm -f /dev/null new-session -d -s shots -x "$COLS" -y "$ROWS" \
    "env TERM=xterm-256color XDG_STATE_HOME='$WORK/state' '$BIN' --embedded --kubeconfig-out '$WORK/kubeconfig'; echo \"edgedeck exited with status \$?\"; sleep 3600"
tm set-option -t shots status off >/dev/null

screen() { tm capture-pane -p -t shots; }

# wait_for TEXT [SECONDS]: until the screen shows TEXT.
wait_for() {
    local text=$1 limit=${2:-30} waited=0
    while ! screen | grep -qF -- "$text"; do
        if screen | grep -q "edgedeck exited with status"; then
            screen >&2
            die "the console exited"
        fi
        ((waited++ >= limit * 10)) && { screen >&2; die "timed out waiting for '$text'"; }
        sleep 0.1
    done
}

# settle [SECONDS]: until the screen has not changed for that long (max 60 s);
# ages ("7s", "2m") tick every second and do not count as changes.
settle() {
    local quiet=${1:-2} last="" now stable=0 waited=0
    while ((stable < quiet * 10)); do
        now=$(screen | sed -E 's/\b[0-9]+[smhd]\b/AGE/g')
        if [[ $now == "$last" ]]; then ((stable++)) || true; else stable=0; last=$now; fi
        ((waited++ >= 600)) && die "the screen never settled"
        sleep 0.1
    done
}

keys() { tm send-keys -t shots "$@"; sleep 0.3; }

mkdir -p "$OUT"
shot() {
    local name=$1
    tm capture-pane -e -p -t shots >"$WORK/$name.ans"
    python3 "$ROOT/scripts/ansi_to_png.py" --cols "$COLS" --rows "$ROWS" "$WORK/$name.ans" "$OUT/$name.png"
    log "$OUT/$name.png ($(($(stat -c %s "$OUT/$name.png") / 1024)) KiB)"
}

# --- the tour ---------------------------------------------------------------
log "starting the console on the embedded demo fleet"
wait_for "● connected" 60
wait_for "(ungrouped)" 60
# The simulator schedules pods and the engine reconciles: wait for a quiet screen.
settle 3

keys 1; wait_for "Regions ["; settle 1
shot 01-regions

keys 2; wait_for "Applications ["; settle 1
shot 02-applications

keys g Enter; wait_for "Target groups"; settle 1
shot 03-app-detail

keys e; wait_for "Overrides of"; settle 1
shot 04-override-form

# Change the replicas and preview the diff; then cancel without saving.
keys End BSpace BSpace BSpace 5; keys C-s; settle 1
shot 05-override-diff
# esc back to the form; esc on the changed form asks; y discards.
keys Escape; keys Escape; wait_for "Discard your changes?"; keys y; wait_for "discarded your edit"

keys 3; wait_for "Matrix"; settle 1
shot 06-matrix

keys 4; wait_for "Traffic"; settle 1
shot 07-traffic

keys 5; wait_for "Engine events"; settle 1
shot 08-engine

keys 1; wait_for "Regions ["; keys g j j Enter; wait_for "Group hangzhou"; settle 1
shot 09-group


# The pods of hangzhou (`p`), one pod's log (`l`), then the Events view.
keys Escape; wait_for "Regions ["; keys p; wait_for "Pods of hangzhou"; settle 1
shot 15-pods
keys / ; tm send-keys -t shots -l nginx-hangzhou; keys Enter; keys l; wait_for "streaming"; sleep 5
shot 16-logs
# Two Events are created with kubectl, one per API, beside the simulator's own.
KUBECONFIG=$WORK/kubeconfig kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Event
metadata: {name: nginx-hangzhou.probe, namespace: edge-apps}
involvedObject: {kind: Deployment, name: nginx-hangzhou, namespace: edge-apps}
type: Normal
reason: ScalingReplicaSet
message: Scaled up replica set nginx-hangzhou to 2
source: {component: deployment-controller}
---
apiVersion: events.k8s.io/v1
kind: Event
metadata: {name: hz-edge-01.probe, namespace: default}
eventTime: "$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)"
reportingController: node-controller
reportingInstance: node-controller-1
action: StatusChange
reason: NodeNotReady
note: Node hz-edge-01 status is now NodeNotReady
type: Warning
regarding: {kind: Node, name: hz-edge-01}
YAML
keys Escape; keys : ; tm send-keys -t shots -l events; keys Enter; wait_for "ScalingReplicaSet"; wait_for "NodeNotReady"; settle 1
shot 17-events
keys 1; wait_for "Regions ["

# Take the selected region (hangzhou) offline with the simulator's `O` key
# and show how regions, applications and traffic react.
keys Escape; wait_for "Regions ["
keys O
wait_for "6 Unknown" 90
settle 2
shot 10-region-offline
keys 4; wait_for "Traffic"; settle 1
shot 11-region-offline-traffic

keys '?'; wait_for "Global"; settle 1
shot 12-help

keys C-c
log "done: $(ls "$OUT"/*.png | wc -l) screenshots in $OUT"
