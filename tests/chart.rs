//! Checks on the Helm chart that need no cluster: its CRD copies are current, its admission
//! policies are complete, and its RBAC has no wildcards. Rendering and applying the chart to a
//! real API server is tested in the integration tests.

use std::path::{Path, PathBuf};

use serde::Deserialize as _;

fn chart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/drover")
}

#[test]
fn the_charts_crd_copies_match_the_types() {
    let dir = chart().join("files/crds");
    for crd in drover::crds::all() {
        let path = dir.join(drover::crds::file_name(&crd));
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            on_disk,
            drover::crds::to_yaml(&crd).expect("yaml"),
            "{} is stale: run `make crds`",
            path.display()
        );
    }
    let files = std::fs::read_dir(&dir).expect("chart crds dir").count();
    assert_eq!(
        files,
        drover::crds::all().len(),
        "charts/drover/files/crds holds a file that no type generates: run `make crds`"
    );
}

fn admission_documents() -> Vec<serde_json::Value> {
    let path = chart().join("files/admission-policies.yaml");
    let text = std::fs::read_to_string(&path).expect("admission policies file");
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| {
            serde_yaml::from_value::<serde_json::Value>(
                serde_yaml::Value::deserialize(doc).expect("yaml"),
            )
        })
        .collect::<Result<Vec<_>, _>>()
        .expect("documents")
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

#[test]
fn every_admission_policy_fails_closed_and_is_bound_to_deny() {
    let docs = admission_documents();
    let names = |kind: &str| -> Vec<String> {
        docs.iter()
            .filter(|d| d["kind"] == kind)
            .map(|d| {
                d["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    };
    let policies = names("ValidatingAdmissionPolicy");
    assert_eq!(
        policies,
        [
            "drover-prov-cluster-names",
            "drover-prov-cluster-workspaces",
            "drover-local-prov-cluster",
            "drover-mgmt-cluster-workspaces",
            "drover-protected-namespaces",
            "drover-workspace-names",
            "drover-workspace-creators",
            "drover-rancher-crds",
        ]
    );
    for policy in docs
        .iter()
        .filter(|d| d["kind"] == "ValidatingAdmissionPolicy")
    {
        assert_eq!(policy["spec"]["failurePolicy"], "Fail", "{policy}");
    }
    for policy in &policies {
        let binding = docs
            .iter()
            .find(|d| {
                d["kind"] == "ValidatingAdmissionPolicyBinding"
                    && d["spec"]["policyName"] == policy.as_str()
            })
            .unwrap_or_else(|| panic!("no binding for {policy}"));
        assert_eq!(
            binding["spec"]["validationActions"],
            serde_json::json!(["Deny"])
        );
    }
}

#[test]
fn the_charts_rbac_grants_no_wildcards() {
    for file in ["templates/rbac.yaml", "templates/workspace-roles.yaml"] {
        let text = std::fs::read_to_string(chart().join(file)).expect("template");
        for (n, line) in text.lines().enumerate() {
            let code = line.split('#').next().unwrap_or_default();
            assert!(
                !code.contains("\"*\"")
                    && !code.contains("'*'")
                    && !code.contains("[*]")
                    && !code.trim_start().starts_with("- *"),
                "{file}:{}: wildcard in RBAC: {line}",
                n + 1
            );
        }
    }
}
