#!/usr/bin/env bash
# Builds Fleet's fleetcontroller, fleetagent and fleet CLI from the Go modules pinned in
# integration-tests/fleet/go.mod, into a cache directory keyed by go.mod, go.sum, the Go version and
# the link flags, and puts Fleet's own CRDs (charts/fleet-crd/templates/crds.yaml from the downloaded
# module, never a copy in this repository) beside them as fleet-crds.yaml. Prints the directory. A
# cache hit builds nothing.
#
# As for the control plane, the build goes into a temporary directory renamed into place only when
# every file exists, so an interrupted build never leaves a usable-looking half entry behind.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../fleet" && pwd)
cache_root=${DROVER_CACHE_DIR:-$HOME/.cache/drover}/fleet

fleet_version=$(awk '$1 == "github.com/rancher/fleet" { print $2; exit }' "$here/go.mod")
ldflags="-X github.com/rancher/fleet/pkg/version.Version=$fleet_version -X github.com/rancher/fleet/pkg/version.GitCommit=$fleet_version"

key=$( { cat "$here/go.mod" "$here/go.sum"; go version; echo "$ldflags"; } | sha256sum | cut -c1-16)
dest="$cache_root/$key"

if [ -x "$dest/fleetcontroller" ] && [ -x "$dest/fleetagent" ] && [ -x "$dest/fleet" ] && [ -s "$dest/fleet-crds.yaml" ]; then
  echo "$dest"
  exit 0
fi

mkdir -p "$cache_root"
tmp=$(mktemp -d "$cache_root/.build-$key-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "building Fleet $fleet_version (cold build: about 12 minutes on two cores) into $dest" >&2
start=$(date +%s)
(
  cd "$here"
  export CGO_ENABLED=0
  go build -trimpath -pgo=off -ldflags="$ldflags" -o "$tmp/fleetcontroller" github.com/rancher/fleet/cmd/fleetcontroller
  go build -trimpath -pgo=off -ldflags="$ldflags" -o "$tmp/fleetagent" github.com/rancher/fleet/cmd/fleetagent
  go build -trimpath -pgo=off -ldflags="$ldflags" -o "$tmp/fleet" github.com/rancher/fleet/cmd/fleetcli
  module_dir=$(go list -m -f '{{.Dir}}' github.com/rancher/fleet)
  cp "$module_dir/charts/fleet-crd/templates/crds.yaml" "$tmp/fleet-crds.yaml"
  chmod u+w "$tmp/fleet-crds.yaml"
) >&2
echo "Fleet built in $(( $(date +%s) - start ))s" >&2

if ! mv -T "$tmp" "$dest" 2>/dev/null; then
  rm -rf "$tmp"
fi
trap - EXIT
echo "$dest"
