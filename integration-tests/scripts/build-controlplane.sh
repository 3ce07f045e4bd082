#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager and etcd from the upstream Go modules pinned in
# integration-tests/controlplane/go.mod into a cache directory (see cached-build.sh) and prints
# the directory holding the three binaries. A cache hit builds nothing.
set -euo pipefail

scripts=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
here=$(cd "$scripts/../controlplane" && pwd)
# shellcheck source=cached-build.sh
. "$scripts/cached-build.sh"

# Stamp the Kubernetes version the way release builds do; otherwise /version reports
# v0.0.0-master and clients that parse it (kubectl version) fail.
k8s_version=$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' "$here/go.mod")
k8s_minor=$(echo "$k8s_version" | cut -d. -f2)
ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$k8s_minor"
  ldflags+=" -X $pkg.gitTreeState=clean"
done

build() {
  go build -trimpath -pgo=off -ldflags="$ldflags" -o "$1/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
  go build -trimpath -pgo=off -ldflags="$ldflags" -o "$1/kube-controller-manager" k8s.io/kubernetes/cmd/kube-controller-manager
  go build -trimpath -pgo=off -ldflags="$ldflags" -o "$1/etcd" go.etcd.io/etcd/server/v3
}
cached_build controlplane "$here" "$ldflags" kube-apiserver kube-controller-manager etcd
