#!/usr/bin/env bash
# Installs the command-line tools the chart checks need, built from their Go modules, into a cache
# directory keyed by tool, version and Go version. Prints the absolute path of each requested
# binary, one a line, in the order asked. A cache hit builds nothing.
#
#   integration-tests/scripts/install-tools.sh helm            # -> .../helm
#   integration-tests/scripts/install-tools.sh helm kubeconform
#
# Versions are pinned below and can be overridden with DROVER_HELM_VERSION /
# DROVER_KUBECONFORM_VERSION. helm is tried as v3 first; if that build fails, v4
# (DROVER_HELM4_VERSION) is built instead. The build goes into a temporary directory that is renamed
# into place only once the binary exists, so an interrupted build never leaves a half entry behind.
set -euo pipefail

HELM_VERSION=${DROVER_HELM_VERSION:-v3.22.0}
HELM4_VERSION=${DROVER_HELM4_VERSION:-v4.3.1}
KUBECONFORM_VERSION=${DROVER_KUBECONFORM_VERSION:-v0.7.0}

cache_root=${DROVER_CACHE_DIR:-$HOME/.cache/drover}/tools
go_version=$(go env GOVERSION)

# install NAME MODULE_PATH VERSION -> prints the binary path; non-zero when the build failed.
install() {
  local name=$1 module=$2 version=$3
  local dest="$cache_root/$name-$version-$go_version"
  if [ -x "$dest/$name" ]; then
    echo "$dest/$name"
    return 0
  fi
  mkdir -p "$cache_root"
  local tmp
  tmp=$(mktemp -d "$cache_root/.build-$name-$version-XXXXXX")
  echo "building $name $version (a few minutes on two cores) into $dest" >&2
  local start
  start=$(date +%s)
  if ! (CGO_ENABLED=0 GOBIN="$tmp" GOFLAGS="${GOFLAGS:-} -trimpath" \
        go install "$module@$version") >&2; then
    rm -rf "$tmp"
    return 1
  fi
  echo "$name built in $(( $(date +%s) - start ))s" >&2
  # Another build may have finished first; either result is complete, keep the one in place.
  if ! mv -T "$tmp" "$dest" 2>/dev/null; then
    rm -rf "$tmp"
  fi
  echo "$dest/$name"
}

[ $# -gt 0 ] || set -- helm
for tool in "$@"; do
  case "$tool" in
    helm)
      install helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION" \
        || install helm helm.sh/helm/v4/cmd/helm "$HELM4_VERSION"
      ;;
    kubeconform)
      install kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION"
      ;;
    *)
      echo "unknown tool: $tool (known: helm, kubeconform)" >&2
      exit 2
      ;;
  esac
done
