# drover: the commands a newcomer runs. `make demo` and `make test` are the two that matter.
SHELL := /usr/bin/env bash
.DEFAULT_GOAL := help

N ?= 10000
M ?= 1000
SEED ?= 1
CONTROLPLANE_BUILD := integration-tests/scripts/build-controlplane.sh
FLEET_BUILD := integration-tests/scripts/build-fleet.sh

.PHONY: help
help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

.PHONY: controlplane-bin
controlplane-bin: ## Build (or reuse) kube-apiserver, kube-controller-manager and etcd
	@$(CONTROLPLANE_BUILD) >/dev/null

.PHONY: fleet-bin
fleet-bin: ## Build (or reuse) Fleet's fleetcontroller, fleetagent and fleet CLI, with Fleet's CRDs
	@$(FLEET_BUILD) >/dev/null

.PHONY: test
test: ## Run every test: unit tests, CRD staleness, and the integration suite on a real control plane with the real Fleet
	export DROVER_CONTROLPLANE_BIN="$$($(CONTROLPLANE_BUILD))" && \
	export DROVER_FLEET_BIN="$$($(FLEET_BUILD))" && \
	export DROVER_FLEET_CRDS="$$DROVER_FLEET_BIN/fleet-crds.yaml" && \
	cargo test --workspace --all-targets

.PHONY: lint
lint: ## cargo fmt --check and clippy with warnings as errors
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

.PHONY: crds
crds: ## Regenerate crds/ and the chart's copies in charts/drover/files/crds/ from the Rust types
	cargo run -q -- crds --write crds
	cargo run -q -- crds --write charts/drover/files/crds

.PHONY: chart
chart: ## helm lint and helm template the chart (builds helm into the tool cache on first use)
	helm="$$(integration-tests/scripts/install-tools.sh helm)" && \
	"$$helm" lint charts/drover && \
	"$$helm" template drover charts/drover --namespace cattle-drover >/dev/null

.PHONY: controlplane
controlplane: ## Start a control plane in the foreground and print its kubeconfig (Ctrl-C stops it)
	integration-tests/scripts/controlplane.sh

.PHONY: demo
demo: ## Run drover's main job on a local control plane with a sample estate
	integration-tests/scripts/demo.sh

.PHONY: bench
bench: ## Benchmarks against the write floor (make bench N=2000 M=200)
	export DROVER_CONTROLPLANE_BIN="$$($(CONTROLPLANE_BUILD))" && \
	export DROVER_FLEET_BIN="$$($(FLEET_BUILD))" && \
	cargo build --release --bin drover && \
	cargo run --release -p drover-integration-tests --bin bench -- --clusters $(N) --workspaces $(M) $(BENCH_ARGS)

.PHONY: chaos
chaos: ## Faults on a real control plane with two drover replicas, invariants from the audit log (make chaos SEED=2); writes target/chaos/report.json
	export DROVER_CONTROLPLANE_BIN="$$($(CONTROLPLANE_BUILD))" && \
	export DROVER_FLEET_BIN="$$($(FLEET_BUILD))" && \
	export DROVER_FLEET_CRDS="$$DROVER_FLEET_BIN/fleet-crds.yaml" && \
	cargo build --bin drover && \
	cargo run -p drover-integration-tests --bin chaos -- --seed $(SEED) $(CHAOS_ARGS)
