# Shared by the scripts/measure-*.sh benchmarks: source it after setting
# ROOT (the repository) and NAME (the script's name, for messages).
#
#   edgedeck_release_bin   sets TARGET (cargo's target directory) and BIN:
#                          $EDGEDECK_BIN if given, else the release build of
#                          this tree (built first)
#   work_dir PREFIX        sets WORK to a fresh temporary directory; it and
#                          every pid in PIDS are cleaned up on exit

die() { echo "$NAME: $*" >&2; exit 1; }

edgedeck_release_bin() {
    TARGET=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
    if [[ -n ${EDGEDECK_BIN:-} ]]; then
        BIN=$EDGEDECK_BIN
    else
        (cd "$ROOT" && cargo build --release --quiet --bin edgedeck)
        BIN=$TARGET/release/edgedeck
    fi
    [[ -x $BIN ]] || die "no binary at $BIN"
}

PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    [[ -n ${WORK:-} ]] && rm -rf "$WORK"
}

work_dir() {
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
    trap cleanup EXIT
}
