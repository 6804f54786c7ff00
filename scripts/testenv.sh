#!/usr/bin/env bash
# Builds the pinned upstream Kubernetes test control plane from the Go module
# proxy into a cache outside the repo and prints the directory holding the
# binaries (the envtest convention: export KUBEBUILDER_ASSETS="$(scripts/testenv.sh)").
#
#   kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubectl  k8s.io/kubernetes
#   etcd                                                                     go.etcd.io/etcd/server/v3
#   kwok                                                                     sigs.k8s.io/kwok
#
# A complete build is marked by bin/.versions; a second run with the same pins
# does nothing. Progress goes to stderr, the path alone to stdout.
set -euo pipefail

K8S=${EDGEDECK_K8S_VERSION:-v1.36.3}
ETCD=${EDGEDECK_ETCD_VERSION:-v3.6.16}
KWOK=${EDGEDECK_KWOK_VERSION:-v0.8.0}
CACHE=${EDGEDECK_TESTENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/edgedeck/testenv}
ROOT="$CACHE/k8s-$K8S-etcd-$ETCD-kwok-$KWOK"
BIN="$ROOT/bin"
WORK="$ROOT/build"
PINS="k8s=$K8S etcd=$ETCD kwok=$KWOK"

log() { echo "testenv: $*" >&2; }

# One build at a time: test binaries and shells may ask at once.
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9

if [ -f "$BIN/.versions" ] && [ "$(cat "$BIN/.versions")" = "$PINS" ]; then
  echo "$BIN"
  exit 0
fi

command -v go >/dev/null || { log "go is not installed; it is needed to build the test control plane"; exit 1; }
# Kubernetes 1.36 pins Go 1.26: built with Go 1.27 its /openapi/v2 loses
# ",inline" fields and kubectl apply fails with "failed to download openapi".
GOV=$(go env GOVERSION)
case "$GOV" in
  go1.26*) ;;
  go1.27*|go1.28*) export GOEXPERIMENT=nojsonv2; log "$GOV: building with GOEXPERIMENT=nojsonv2" ;;
  *) log "warning: untested Go toolchain $GOV" ;;
esac
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
mkdir -p "$BIN" "$WORK/k8s" "$WORK/etcd"
rm -f "$BIN/.versions"
start=$(date +%s)

minor=$(echo "${K8S#v}" | cut -d. -f2)
staging="v0.${K8S#v1.}"
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"

log "k8s.io/kubernetes $K8S (staging modules at $staging)"
cd "$WORK/k8s"
moddir=$(go mod download -json "k8s.io/kubernetes@$K8S" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
{
  printf 'module edgedeck.test/k8s\n\ngo 1.26.0\n\nrequire k8s.io/kubernetes %s\n\n' "$K8S"
  # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them
  # with ./staging paths that a dependent module ignores: point each at the
  # published tag of the same release.
  {
    grep -E '^[[:space:]]*k8s\.io/[a-z0-9-]+ v0\.0\.0([[:space:]]|$)' "$moddir/go.mod" | awk '{print $1}'
    grep -oE 'k8s\.io/[a-z0-9-]+ => \./staging/' "$moddir/go.mod" | awk '{print $1}'
  } | sort -u | awk -v s="$staging" '{print "replace " $1 " => " $1 " " s}'
} > go.mod
cat > tools.go <<'EOF'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
EOF
go mod tidy >&2
for cmd in kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubectl; do
  t=$(date +%s)
  go build -trimpath -ldflags "$ldflags" -o "$BIN/$cmd" "k8s.io/kubernetes/cmd/$cmd" >&2
  log "$cmd built in $(( $(date +%s) - t ))s"
done

log "etcd $ETCD"
cd "$WORK/etcd"
printf 'module edgedeck.test/etcd\n\ngo 1.26.0\n' > go.mod
printf 'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n' > main.go
go get "go.etcd.io/etcd/server/v3@$ETCD" >&2
go mod tidy >&2
go build -trimpath -ldflags "-s -w" -o "$BIN/etcd" . >&2

log "kwok $KWOK"
GOBIN="$BIN" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK" >&2

echo "$PINS" > "$BIN/.versions"
log "built in $(( $(date +%s) - start ))s into $BIN"
echo "$BIN"
