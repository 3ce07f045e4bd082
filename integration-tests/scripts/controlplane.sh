#!/usr/bin/env bash
# Starts a Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager with drover's
# CRDs and Fleet's own CRDs installed) in the foreground, building or reusing the cached binaries first. Prints the
# path of an admin kubeconfig on stdout; Ctrl-C stops every process and removes the temporary
# directory.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bin=$("$root/integration-tests/scripts/build-controlplane.sh")
fleet=$("$root/integration-tests/scripts/build-fleet.sh")
cd "$root"
# `cargo run` replaces itself with the program, so Ctrl-C reaches it directly.
export DROVER_CONTROLPLANE_BIN="$bin" DROVER_FLEET_BIN="$fleet"
exec cargo run --quiet -p drover-integration-tests --bin controlplane
