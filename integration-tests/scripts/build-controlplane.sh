#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager and etcd from the upstream Go modules pinned in
# integration-tests/controlplane/go.mod, into a cache directory keyed by go.mod, go.sum, the Go
# version and the link flags. Prints the directory holding the three binaries. A cache hit builds
# nothing.
#
# The build goes into a temporary directory that is renamed into place only when all three
# binaries exist, so an interrupted build never leaves a usable-looking half entry behind.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../controlplane" && pwd)
cache_root=${DROVER_CACHE_DIR:-$HOME/.cache/drover}/controlplane

# Stamp the Kubernetes version the way release builds do; otherwise /version reports
# v0.0.0-master and clients that parse it (kubectl version) fail.
k8s_version=$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' "$here/go.mod")
k8s_minor=$(echo "$k8s_version" | cut -d. -f2)
ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$k8s_minor"
  ldflags+=" -X $pkg.gitTreeState=clean"
done

key=$( { cat "$here/go.mod" "$here/go.sum"; go version; echo "$ldflags"; } | sha256sum | cut -c1-16)
dest="$cache_root/$key"

if [ -x "$dest/kube-apiserver" ] && [ -x "$dest/kube-controller-manager" ] && [ -x "$dest/etcd" ]; then
  echo "$dest"
  exit 0
fi

mkdir -p "$cache_root"
tmp=$(mktemp -d "$cache_root/.build-$key-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "building the control plane (cold build: tens of minutes on two cores) into $dest" >&2
start=$(date +%s)
(
  cd "$here"
  export CGO_ENABLED=0
  go build -trimpath -pgo=off -ldflags="$ldflags" -o "$tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
  go build -trimpath -pgo=off -ldflags="$ldflags" -o "$tmp/kube-controller-manager" k8s.io/kubernetes/cmd/kube-controller-manager
  go build -trimpath -pgo=off -ldflags="$ldflags" -o "$tmp/etcd" go.etcd.io/etcd/server/v3
) >&2
echo "control plane built in $(( $(date +%s) - start ))s" >&2

# Another build may have finished first; either result is complete, keep the one in place.
if ! mv -T "$tmp" "$dest" 2>/dev/null; then
  rm -rf "$tmp"
fi
trap - EXIT
echo "$dest"
