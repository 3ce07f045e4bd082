#!/usr/bin/env bash
# Builds Fleet's fleetcontroller, fleetagent and fleet CLI from the Go modules pinned in
# integration-tests/fleet/go.mod into a cache directory (see cached-build.sh), puts Fleet's own
# CRDs (charts/fleet-crd/templates/crds.yaml from the downloaded module, never a copy in this
# repository) beside them as fleet-crds.yaml, and prints the directory. A cache hit builds
# nothing.
set -euo pipefail

scripts=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
here=$(cd "$scripts/../fleet" && pwd)
# shellcheck source=cached-build.sh
. "$scripts/cached-build.sh"

fleet_version=$(awk '$1 == "github.com/rancher/fleet" { print $2; exit }' "$here/go.mod")
ldflags="-X github.com/rancher/fleet/pkg/version.Version=$fleet_version -X github.com/rancher/fleet/pkg/version.GitCommit=$fleet_version"

build() {
  go build -trimpath -pgo=off -ldflags="$ldflags" -o "$1/fleetcontroller" github.com/rancher/fleet/cmd/fleetcontroller
  go build -trimpath -pgo=off -ldflags="$ldflags" -o "$1/fleetagent" github.com/rancher/fleet/cmd/fleetagent
  go build -trimpath -pgo=off -ldflags="$ldflags" -o "$1/fleet" github.com/rancher/fleet/cmd/fleetcli
  local module_dir
  module_dir=$(go list -m -f '{{.Dir}}' github.com/rancher/fleet)
  cp "$module_dir/charts/fleet-crd/templates/crds.yaml" "$1/fleet-crds.yaml"
  chmod u+w "$1/fleet-crds.yaml"
}
cached_build fleet "$here" "$ldflags" fleetcontroller fleetagent fleet fleet-crds.yaml
