# Sourced by the build scripts: one cache discipline for every binary built from a pinned Go
# module (the control plane, Fleet).
#
# cached_build KIND MODULE_DIR LDFLAGS FILE...
#   Prints the cache directory for KIND keyed by MODULE_DIR's go.mod and go.sum, the Go version
#   and LDFLAGS. When any FILE is missing there, it first runs the caller's `build TMP` function
#   (in MODULE_DIR, with CGO_ENABLED=0, output to stderr) into a temporary directory that is
#   renamed into place only once it is complete, so an interrupted build never leaves a
#   usable-looking half entry behind. A cache hit builds nothing.
cached_build() {
  local kind=$1 module=$2 ldflags=$3
  shift 3
  local cache_root=${DROVER_CACHE_DIR:-$HOME/.cache/drover}/$kind
  local key dest tmp start file hit=1
  key=$( { cat "$module/go.mod" "$module/go.sum"; go version; echo "$ldflags"; } | sha256sum | cut -c1-16)
  dest="$cache_root/$key"
  for file in "$@"; do
    [ -s "$dest/$file" ] || hit=0
  done
  if [ "$hit" = 1 ]; then
    echo "$dest"
    return 0
  fi

  mkdir -p "$cache_root"
  tmp=$(mktemp -d "$cache_root/.build-$key-XXXXXX")
  # shellcheck disable=SC2064 # expand $tmp now: it is local
  trap "rm -rf '$tmp'" EXIT
  echo "building $kind (a cold build takes minutes on two cores) into $dest" >&2
  start=$(date +%s)
  (cd "$module" && export CGO_ENABLED=0 && build "$tmp") >&2
  for file in "$@"; do
    [ -s "$tmp/$file" ] || { echo "the $kind build produced no $file" >&2; return 1; }
  done
  echo "$kind built in $(( $(date +%s) - start ))s" >&2
  # Another build may have finished first; either result is complete, keep the one in place.
  if ! mv -T "$tmp" "$dest" 2>/dev/null; then
    rm -rf "$tmp"
  fi
  trap - EXIT
  echo "$dest"
}
