#!/usr/bin/env bash
# make demo: drover's main job on local control planes, with the real Fleet.
#
# Starts the upstream control plane (Rancher's local cluster: kube-apiserver, etcd,
# kube-controller-manager; drover's and Fleet's CRDs installed; fleet-controller's three
# processes) and two downstream control planes (`dev`, `c-7x2kq`), installs the chart's
# ServiceAccount, RBAC and admission policies, runs drover as that ServiceAccount, creates a small
# estate (two workspaces, a provisioning cluster, an imported legacy cluster; drover bootstraps
# the local cluster), plays the cluster agent and the provisioner for it (kubeconfig secrets that
# point at the downstreams), waits until Fleet has imported every cluster and their fleet-agents
# run, deploys a sample Bundle to each workspace, and prints the Fleet clusters with their bundles
# ready and `drover inspect`. Then it waits: explore with kubectl, Ctrl-C stops every process it
# started (by saved PID).
#
# Needs Rust and Go. The first run builds the control plane and Fleet (minutes each) and helm;
# kubectl is taken from PATH, or built from the control plane's pinned Kubernetes module.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
scripts="$root/integration-tests/scripts"
cache_root=${DROVER_CACHE_DIR:-$HOME/.cache/drover}
target=${CARGO_TARGET_DIR:-$root/target}
namespace=cattle-fleet-system
work=$(mktemp -d "${TMPDIR:-/tmp}/drover-demo-XXXXXX")
controlplane_pid=""
drover_pid=""

say() { printf '\n==> %s\n' "$*" >&2; }

# alive PID: the process runs (an exited child that is not reaped yet does not count).
alive() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ $state != Z* ]]
}

# stop PID GRACE_SECONDS: SIGTERM, then SIGKILL if it still runs after the grace period.
stop() {
  local pid=$1 grace=$2 i
  [ -n "$pid" ] || return 0
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do
      alive "$pid" || break
      sleep 0.1
    done
    if alive "$pid"; then
      echo "process $pid did not stop after SIGTERM; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  echo >&2
  if [ -n "$drover_pid$controlplane_pid" ]; then
    echo "stopping drover and the control plane ..." >&2
  fi
  # drover first: it finishes its reconciles and releases its Lease while the API server runs.
  stop "$drover_pid" 15
  stop "$controlplane_pid" 30
  if [ "$rc" -eq 0 ] || [ "$rc" -eq 130 ]; then
    rm -rf "$work"
  else
    echo "logs kept in $work" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "demo: $*" >&2
  exit 1
}

# tail_log FILE: the end of a log, to explain a failure.
tail_log() {
  echo "--- last lines of $1 ---" >&2
  tail -n 40 "$1" >&2 || true
}

# http PORT PATH: prints the status code, then the body, of a GET on 127.0.0.1.
http() {
  local response
  response=$({
    exec 3<>"/dev/tcp/127.0.0.1/$1" &&
      printf 'GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$2" >&3 &&
      cat <&3
  } 2>/dev/null) || return 1
  printf '%s\n' "$response" | tr -d '\r'
}

# wait_for WHAT SECONDS COMMAND...: runs COMMAND every half second until it succeeds.
wait_for() {
  local what=$1 seconds=$2 i
  shift 2
  for ((i = 0; i < seconds * 2; i++)); do
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.5
  done
  fail "timed out after ${seconds}s waiting for $what"
}

kubectl_bin() {
  if command -v kubectl >/dev/null 2>&1; then
    command -v kubectl
    return
  fi
  # The control plane's go.mod pins k8s.io/kubernetes, which also holds kubectl.
  local module="$root/integration-tests/controlplane"
  # Stamped like the control plane, so that `kubectl version` reports the real version.
  local version ldflags="" pkg key
  version=$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' "$module/go.mod")
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$(echo "$version" | cut -d. -f2)"
  done
  key=$( { cat "$module/go.mod" "$module/go.sum"; go version; echo "$ldflags"; } | sha256sum | cut -c1-16)
  local dest="$cache_root/kubectl/$key"
  if [ ! -x "$dest/kubectl" ]; then
    say "building kubectl from the pinned Kubernetes module (a few minutes) into $dest"
    mkdir -p "$cache_root/kubectl"
    local tmp
    tmp=$(mktemp -d "$cache_root/kubectl/.build-XXXXXX")
    # A copy of the module: go.sum lacks kubectl-only dependencies, which -mod=mod adds there
    # (verified against the checksum database) without touching the repository.
    mkdir "$tmp/module"
    cp "$module/go.mod" "$module/go.sum" "$tmp/module/"
    (cd "$tmp/module" && CGO_ENABLED=0 go build -mod=mod -trimpath -ldflags="$ldflags" -o "$tmp/kubectl" k8s.io/kubernetes/cmd/kubectl) >&2 ||
      { rm -rf "$tmp"; fail "building kubectl failed"; }
    rm -rf "$tmp/module"
    mv -T "$tmp" "$dest" 2>/dev/null || rm -rf "$tmp"
  fi
  echo "$dest/kubectl"
}

# ---- binaries ---------------------------------------------------------------------------------
say "building or reusing the control plane, Fleet, drover and kubectl"
DROVER_CONTROLPLANE_BIN=$("$scripts/build-controlplane.sh")
DROVER_FLEET_BIN=$("$scripts/build-fleet.sh")
export DROVER_CONTROLPLANE_BIN DROVER_FLEET_BIN
cargo build --quiet -p drover --bin drover
cargo build --quiet -p drover-integration-tests --bin controlplane
drover="$target/debug/drover"
kubectl=$(kubectl_bin)
helm=$("$scripts/install-tools.sh" helm)

# ---- control plane ----------------------------------------------------------------------------
say "starting the control planes (upstream with Fleet's controllers; downstreams dev and c-7x2kq)"
"$target/debug/controlplane" --fleet --downstream dev --downstream c-7x2kq \
  >"$work/controlplane.out" 2>"$work/controlplane.log" &
controlplane_pid=$!
for ((i = 0; i < 600; i++)); do
  [ "$(wc -l <"$work/controlplane.out")" -ge 3 ] && break
  alive "$controlplane_pid" || { tail_log "$work/controlplane.log"; fail "the control plane did not start"; }
  sleep 0.5
done
kubeconfig=$(head -n 1 "$work/controlplane.out")
[ -n "$kubeconfig" ] || fail "the control plane printed no kubeconfig"
downstream_kubeconfig() { awk -v n="$1" '$1 == n { print $2 }' "$work/controlplane.out"; }
dev_kubeconfig=$(downstream_kubeconfig dev)
legacy_kubeconfig=$(downstream_kubeconfig c-7x2kq)
[ -n "$dev_kubeconfig" ] && [ -n "$legacy_kubeconfig" ] || fail "the downstream control planes printed no kubeconfig"
export KUBECONFIG="$kubeconfig"
grep -m 1 "control plane ready" "$work/controlplane.log" >&2 || true

# ---- the chart's ServiceAccount, RBAC and admission policies ----------------------------------
say "installing the chart's ServiceAccount, RBAC and admission policies (CRDs: already there)"
# fleet-controller runs there already (its ConfigMap lives in it); drover joins it.
"$kubectl" get namespace "$namespace" >/dev/null 2>&1 || "$kubectl" create namespace "$namespace" >/dev/null
"$helm" template drover "$root/charts/drover" --namespace "$namespace" \
  --set crds.install=false \
  --show-only templates/serviceaccount.yaml \
  --show-only templates/rbac.yaml \
  --show-only templates/workspace-roles.yaml \
  --show-only templates/admission-policies.yaml \
  --show-only templates/admission-guard.yaml >"$work/chart.yaml"
"$kubectl" apply --server-side -f "$work/chart.yaml" | sed 's/^/    /' >&2

# drover runs as the chart's ServiceAccount: the demo exercises the least-privilege RBAC.
token=$("$kubectl" -n "$namespace" create token drover --duration=24h)
cp "$kubeconfig" "$work/drover.kubeconfig"
user=$("$kubectl" --kubeconfig "$work/drover.kubeconfig" config view -o jsonpath='{.contexts[0].context.user}')
"$kubectl" --kubeconfig "$work/drover.kubeconfig" config set-credentials "$user" --token="$token" >/dev/null

# ---- drover -----------------------------------------------------------------------------------
port=${DROVER_DEMO_PORT:-8080}
while http "$port" /healthz >/dev/null; do port=$((port + 1)); done
say "starting drover (metrics on 127.0.0.1:$port, log in $work/drover.log)"
"$drover" --kubeconfig "$work/drover.kubeconfig" --log-format text run \
  --listen "127.0.0.1:$port" --lease-namespace "$namespace" --identity demo \
  >"$work/drover.log" 2>&1 &
drover_pid=$!
ready() { alive "$drover_pid" && http "$port" /readyz | head -n 1 | grep -q ' 200'; }
for ((i = 0; i < 120; i++)); do
  ready && break
  alive "$drover_pid" || { tail_log "$work/drover.log"; fail "drover exited"; }
  sleep 0.5
done
ready || { tail_log "$work/drover.log"; fail "drover did not become ready"; }
leader() { http "$port" /metrics | grep -q '^drover_leader 1'; }
wait_for "drover to take the leadership Lease" 30 leader

# ---- the sample estate ------------------------------------------------------------------------
say "creating the estate: workspaces team-a and team-b, prov cluster fleet-default/dev, legacy mgmt cluster c-7x2kq"
wait_for "workspace namespace fleet-default" 30 "$kubectl" get namespace fleet-default
# A workspace's creator is the user who creates it (admission policy drover-workspace-creators):
# alice creates team-a.
"$kubectl" --as alice --as-group system:masters apply -f - >&2 <<'EOF'
apiVersion: management.cattle.io/v3
kind: FleetWorkspace
metadata:
  name: team-a
  annotations:
    field.cattle.io/creatorId: alice
EOF
"$kubectl" apply -f - >&2 <<'EOF'
apiVersion: management.cattle.io/v3
kind: FleetWorkspace
metadata:
  name: team-b
  labels:
    team: b
---
apiVersion: provisioning.cattle.io/v1
kind: Cluster
metadata:
  name: dev
  namespace: fleet-default
  annotations:
    field.cattle.io/description: an RKE2 cluster that a provisioner builds
spec:
  kubernetesVersion: v1.33.1+rke2r1
  rkeConfig: {}
---
apiVersion: management.cattle.io/v3
kind: Cluster
metadata:
  name: c-7x2kq
spec:
  displayName: imported-legacy
  fleetWorkspaceName: team-a
EOF

say "playing the cluster agent (mgmt conditions Ready, Connected) and the provisioner (kubeconfig secrets)"
mgmt_name() { "$kubectl" -n fleet-default get clusters.provisioning.cattle.io dev -o jsonpath='{.status.clusterName}'; }
has_mgmt_name() { [ -n "$(mgmt_name)" ]; }
wait_for "prov cluster fleet-default/dev to get its mgmt cluster" 30 has_mgmt_name
dev_mgmt=$(mgmt_name)
wait_for "mgmt cluster $dev_mgmt" 30 "$kubectl" get clusters.management.cattle.io "$dev_mgmt"
for mgmt in "$dev_mgmt" c-7x2kq; do
  "$kubectl" patch clusters.management.cattle.io "$mgmt" --subresource=status --type=merge -p \
    '{"status":{"conditions":[{"type":"Ready","status":"True"},{"type":"Connected","status":"True"},{"type":"AgentDeployed","status":"True"}]}}' >&2
done
for ns in team-a fleet-local; do
  wait_for "namespace $ns" 30 "$kubectl" get namespace "$ns"
done
"$kubectl" -n fleet-default create secret generic dev-kubeconfig --from-file=value="$dev_kubeconfig" >&2
"$kubectl" -n fleet-local create secret generic local-kubeconfig --from-file=value="$kubeconfig" >&2
"$kubectl" -n team-a create secret generic c-7x2kq-kubeconfig --from-file=value="$legacy_kubeconfig" >&2

say "waiting for every cluster to surface in Fleet"
for fleet in fleet-default/dev team-a/c-7x2kq fleet-local/local; do
  wait_for "fleet cluster $fleet" 60 "$kubectl" -n "${fleet%/*}" get clusters.fleet.cattle.io "${fleet#*/}"
done

say "deploying a sample Bundle (one ConfigMap) to every cluster of each workspace"
for ws in fleet-default team-a fleet-local; do
  "$kubectl" apply -f - >&2 <<EOF
apiVersion: fleet.cattle.io/v1alpha1
kind: Bundle
metadata:
  name: hello
  namespace: $ws
spec:
  defaultNamespace: hello
  resources:
  - name: hello.yaml
    content: |
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: hello
      data:
        workspace: $ws
  targets:
  - clusterSelector: {}
EOF
done

say "waiting for Fleet: imports, fleet-agents registering, bundles ready (about a minute)"
# Ready bundles "n/n" with both of this cluster's: Fleet's agent Bundle and the sample.
bundles_ready() {
  local ready
  ready=$("$kubectl" -n "${1%/*}" get clusters.fleet.cattle.io "${1#*/}" -o jsonpath='{.status.display.readyBundles}')
  [ "${ready%/*}" = "${ready#*/}" ] && [ "${ready#*/}" = 2 ]
}
for fleet in fleet-default/dev team-a/c-7x2kq fleet-local/local; do
  wait_for "fleet cluster $fleet to have its bundle ready" 300 bundles_ready "$fleet"
done

say "kubectl get clusters.provisioning.cattle.io,clusters.fleet.cattle.io -A"
"$kubectl" get clusters.provisioning.cattle.io -A
echo
"$kubectl" get clusters.fleet.cattle.io -A
say "what Fleet deployed: ConfigMap hello/hello on each cluster (data.workspace)"
for cluster in "local $kubeconfig" "dev $dev_kubeconfig" "c-7x2kq $legacy_kubeconfig"; do
  printf '%-8s %s\n' "${cluster%% *}" \
    "$("$kubectl" --kubeconfig "${cluster#* }" -n hello get configmap hello -o jsonpath='{.data.workspace}')"
done
say "drover inspect"
"$drover" inspect || true

cat >&2 <<EOF

drover runs as the leader (log: $work/drover.log, metrics: http://127.0.0.1:$port/metrics).
Explore with kubectl:

    export KUBECONFIG=$kubeconfig                # upstream (local)
    kubectl --kubeconfig $dev_kubeconfig ...     # downstream dev
    kubectl --kubeconfig $legacy_kubeconfig ...  # downstream c-7x2kq

Press Ctrl-C to stop drover and the control plane.
EOF

# `wait` returns at once when a trapped signal arrives; the EXIT trap then stops everything.
while alive "$drover_pid" && alive "$controlplane_pid"; do
  wait -n "$drover_pid" "$controlplane_pid" 2>/dev/null || true
done
alive "$drover_pid" || tail_log "$work/drover.log"
alive "$controlplane_pid" || tail_log "$work/controlplane.log"
fail "drover or the control plane exited unexpectedly"
