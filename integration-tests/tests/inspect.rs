//! `drover inspect` against a real API server. Each test has a control plane of its own, because
//! inspect reports on everything it can see.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use drover::api::{MgmtCluster, ProvCluster, ProvClusterStatus};
use drover::inspect::{Kind, ObjectRef, ProblemKind, Report};
use drover_integration_tests::fixtures::{
    connect_mgmt, create_kubeconfig_secret, create_prov, create_workspace, legacy_mgmt_cluster,
    prov_cluster,
};
use drover_integration_tests::{CONVERGE, Drover, TestEnv, drover_binary, eventually, test_config};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::json;

fn has_problem(report: &Report, kind: ProblemKind, object: &ObjectRef) -> bool {
    report
        .problems
        .iter()
        .any(|p| p.kind == kind && &p.object == object)
}

#[tokio::test]
async fn inspect_reports_an_orphan_a_missing_counterpart_and_a_stuck_finalizer() -> Result<()> {
    let env = TestEnv::start().await?;
    let client = env.client()?;
    let namespace = "team-i";
    Api::<Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &Namespace {
                metadata: ObjectMeta {
                    name: Some(namespace.into()),
                    ..ObjectMeta::default()
                },
                ..Namespace::default()
            },
        )
        .await?;

    // An orphan: a mgmt cluster whose ownership marks name a prov cluster that does not exist.
    let mut orphan = legacy_mgmt_cluster("c-m-orphaned", Some(namespace));
    orphan.metadata.annotations = Some(BTreeMap::from([
        (
            "objectset.rio.cattle.io/owner-gvk".to_string(),
            "provisioning.cattle.io/v1, Kind=Cluster".to_string(),
        ),
        (
            "objectset.rio.cattle.io/owner-name".to_string(),
            "gone".to_string(),
        ),
        (
            "objectset.rio.cattle.io/owner-namespace".to_string(),
            namespace.to_string(),
        ),
    ]));
    Api::<MgmtCluster>::all(client.clone())
        .create(&PostParams::default(), &orphan)
        .await?;

    // A missing counterpart: a prov cluster whose recorded mgmt cluster does not exist.
    let provs = Api::<ProvCluster>::namespaced(client.clone(), namespace);
    create_prov(&client, &prov_cluster(namespace, "lonely")).await?;
    let status = ProvClusterStatus {
        cluster_name: Some("c-m-missing0".into()),
        ..ProvClusterStatus::default()
    };
    provs
        .patch_status(
            "lonely",
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": status })),
        )
        .await?;

    // A finalizer holding a deletion.
    let mut stuck = prov_cluster(namespace, "stuck");
    stuck.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    create_prov(&client, &stuck).await?;
    provs.delete("stuck", &DeleteParams::default()).await?;

    let report = drover::inspect::collect(&client).await?;
    ensure!(!report.consistent);
    ensure!(
        has_problem(
            &report,
            ProblemKind::Orphan,
            &ObjectRef::new(Kind::Mgmt, None, "c-m-orphaned")
        ),
        "{:#?}",
        report.problems
    );
    ensure!(
        has_problem(
            &report,
            ProblemKind::MissingCounterpart,
            &ObjectRef::new(Kind::Prov, Some(namespace), "lonely")
        ),
        "{:#?}",
        report.problems
    );
    let stuck_problem = report
        .problems
        .iter()
        .find(|p| p.kind == ProblemKind::FinalizerHoldsDeletion)
        .context("no finalizer problem")?;
    ensure!(stuck_problem.object == ObjectRef::new(Kind::Prov, Some(namespace), "stuck"));
    ensure!(stuck_problem.message.contains("example.com/hold"));

    // The command: JSON on stdout, exit code 1 for problems.
    let output = std::process::Command::new(drover_binary())
        .args(["inspect", "-o", "json", "--kubeconfig"])
        .arg(env.kubeconfig_path())
        .output()
        .context("running drover inspect")?;
    ensure!(output.status.code() == Some(1), "{output:?}");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    ensure!(json["consistent"] == false);
    ensure!(
        json["problems"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["kind"] == "finalizer-holds-deletion")),
        "{json}"
    );

    provs
        .patch(
            "stuck",
            &PatchParams::default(),
            &Patch::Merge(json!({ "metadata": { "finalizers": null } })),
        )
        .await?;
    Ok(())
}

#[tokio::test]
async fn inspect_reports_all_consistent_after_a_clean_convergence() -> Result<()> {
    let env = TestEnv::start().await?;
    let client = env.client()?;
    let _drover = Drover::start(&env, test_config())?;

    create_workspace(&client, "team-c").await?;
    eventually("namespace team-c", CONVERGE, || async {
        Ok(Api::<Namespace>::all(client.clone())
            .get_opt("team-c")
            .await?
            .map(|_| ()))
    })
    .await?;
    create_prov(&client, &prov_cluster("team-c", "prod")).await?;
    let mgmt_name = eventually("prod's mgmt cluster", CONVERGE, || async {
        let prov = Api::<ProvCluster>::namespaced(client.clone(), "team-c")
            .get("prod")
            .await?;
        Ok(prov.cluster_name().map(str::to_string))
    })
    .await?;
    connect_mgmt(&client, &mgmt_name).await?;
    create_kubeconfig_secret(&client, "team-c", "prod").await?;

    let prod = ObjectRef::new(Kind::Prov, Some("team-c"), "prod");
    let prod_fleet = ObjectRef::new(Kind::Fleet, Some("team-c"), "prod");
    let converged = |report: &Report| {
        report.clusters.iter().any(|r| {
            r.prov.as_ref() == Some(&prod)
                && r.fleet.as_ref() == Some(&prod_fleet)
                && r.state == "ok"
        })
    };
    // Consistent also holds while a cluster waits (e.g. for its kubeconfig secret): wait for
    // the fleet cluster too.
    let report = eventually(
        "an all-consistent report with prod's fleet cluster",
        CONVERGE + Duration::from_secs(30),
        || async {
            let report = drover::inspect::collect(&client).await?;
            Ok((report.consistent && converged(&report)).then_some(report))
        },
    )
    .await?;
    ensure!(report.problems.is_empty(), "{}", report.to_table());

    let output = std::process::Command::new(drover_binary())
        .args(["inspect", "--kubeconfig"])
        .arg(env.kubeconfig_path())
        .output()
        .context("running drover inspect")?;
    let table = String::from_utf8_lossy(&output.stdout);
    ensure!(output.status.code() == Some(0), "{output:?}");
    ensure!(table.contains("All consistent."), "{table}");
    println!("{table}");
    Ok(())
}
