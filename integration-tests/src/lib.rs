//! Harness for drover's tests against a real Kubernetes control plane.
