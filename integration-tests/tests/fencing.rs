//! One writer, fenced (issue 12 item 5), on the real control plane: two replicas as distinct API
//! users, and the API server's audit log as the record of who wrote what while holding the
//! Lease. The tests run one at a time on private control planes.

use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use drover::runtime::lease::LEASE_DURATION;
use drover_integration_tests::audit;
use drover_integration_tests::chaos::replica::{LEASE_NAME, LEASE_NAMESPACE, Replica, leader};
use drover_integration_tests::chaos::{invariants, workload};
use drover_integration_tests::fixtures::default_workspaces_ready;
use drover_integration_tests::{Options, TestEnv, User, eventually};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::{Api, ObjectMeta, PostParams};
use serde_json::json;
use tokio::sync::Mutex;

static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

const REPLICAS: [&str; 2] = ["drover-a", "drover-b"];

async fn lease_namespace(env: &TestEnv) -> Result<()> {
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(LEASE_NAMESPACE.into()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    Api::<Namespace>::all(env.client()?)
        .create(&PostParams::default(), &namespace)
        .await?;
    Ok(())
}

fn logs(replicas: &[&Replica]) -> String {
    replicas
        .iter()
        .map(|r| {
            let log = r.log_text();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            format!("--- drover {} ---\n{}", r.user, tail.join("\n"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_whose_api_server_stops_steps_down_by_its_own_clock_and_no_write_crosses_a_term()
-> Result<()> {
    let _one = ONE_AT_A_TIME.lock().await;
    let env = TestEnv::start_with(Options {
        audit: true,
        users: REPLICAS.iter().map(|u| User::admin(u)).collect(),
    })
    .await?;
    let client = env.client()?;
    lease_namespace(&env).await?;
    let logs_dir = tempfile::Builder::new()
        .prefix("drover-fencing-")
        .tempdir()?;
    let a = Replica::start(&env, REPLICAS[0], logs_dir.path(), &[])?;
    let b = Replica::start(&env, REPLICAS[1], logs_dir.path(), &[])?;
    for r in [&a, &b] {
        r.wait_ready(Duration::from_secs(60)).await?;
    }
    let first = eventually("a leader", Duration::from_secs(30), || async {
        leader(&[&a, &b]).await
    })
    .await?;
    let (held, other) = if first == 0 { (&a, &b) } else { (&b, &a) };
    default_workspaces_ready(&client).await?;

    // A workload that keeps the leader writing when the API server stops.
    let _agent = workload::Agent::start(client.clone());
    let creating = tokio::spawn({
        let client = client.clone();
        async move { workload::provs(&client, 0..150).await }
    });
    let before = held.writes().await?;
    eventually(
        "the leader to be writing",
        Duration::from_secs(60),
        || async { Ok((held.writes().await? > before + 30.0).then_some(())) },
    )
    .await?;

    env.signal("kube-apiserver", libc::SIGSTOP)?;
    let stopped = async {
        // Without a single answer, the leader stops writing by its own clock.
        eventually(
            "the leader to step down while the API server answers nothing",
            LEASE_DURATION + Duration::from_secs(10),
            || async { Ok((!held.is_leader().await?).then_some(())) },
        )
        .await?;
        ensure!(
            !other.is_leader().await?,
            "the standby leads without the API server"
        );
        // Long enough that the Lease has surely expired: every write the old term sent and the
        // API server holds in its sockets would now land outside it.
        tokio::time::sleep(LEASE_DURATION).await;
        anyhow::Ok(())
    }
    .await;
    env.signal("kube-apiserver", libc::SIGCONT)?;
    stopped.with_context(|| logs(&[&a, &b]))?;

    creating.await??;
    let converged = invariants::converge(&env, Duration::from_secs(180)).await?;
    ensure!(
        converged.is_ok(),
        "drover inspect still finds problems: {converged:?}\n{}",
        logs(&[&a, &b])
    );
    let writes = invariants::writes(&env)?;
    let violations = audit::writes_outside_terms(&writes, LEASE_NAME, &REPLICAS);
    let described: Vec<String> = violations
        .iter()
        .take(10)
        .map(|v| format!("{}: {}", v.write.describe(), v.why))
        .collect();
    ensure!(
        violations.is_empty(),
        "{} writes outside the writer's Lease term (audit log {}):\n{}",
        violations.len(),
        invariants::audit_path(&env),
        described.join("\n")
    );
    // Requests the stopped API server held unread are served when it goes on, unless it notices
    // first that their client has gone (it answers those 504): figures, printed.
    let late = audit::received_after_expiry(&writes, LEASE_NAME, &REPLICAS);
    let refused = writes
        .iter()
        .filter(|w| w.user == held.user && w.code == Some(504))
        .count();
    println!(
        "requests of the stopped term served after its hold expired: {} landed, {refused} refused",
        late.len()
    );
    // The stop ended a term: the writes of the one before it are what the check above covers.
    let terms = audit::terms(&writes, LEASE_NAME);
    ensure!(terms.len() >= 2, "the Lease changed hands {terms:?}");
    ensure!(
        held.log_text()
            .contains("could not be renewed before its fence"),
        "the leader did not step down at its fence:\n{}",
        logs(&[held])
    );
    ensure!(
        invariants::duplicate_counterparts(&client)
            .await?
            .is_empty(),
        "duplicate counterparts"
    );
    Ok(())
}

/// A user that may do everything drover does except list and watch Leases: its Lease watch
/// fails on every attempt, while reads and writes of the Lease work.
async fn user_without_lease_watch(env: &TestEnv, user: &str) -> Result<()> {
    let client = env.client()?;
    let all_but_leases: ClusterRole = serde_json::from_value(json!({
        "metadata": {"name": "everything-but-leases"},
        "rules": [
            {"apiGroups": ["", "apps", "management.cattle.io", "provisioning.cattle.io",
                           "fleet.cattle.io", "rbac.authorization.k8s.io",
                           "apiextensions.k8s.io", "events.k8s.io", "authorization.k8s.io"],
             "resources": ["*"], "verbs": ["*"]},
        ],
    }))?;
    Api::<ClusterRole>::all(client.clone())
        .create(&PostParams::default(), &all_but_leases)
        .await?;
    let binding: ClusterRoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "everything-but-leases"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "everything-but-leases"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    }))?;
    Api::<ClusterRoleBinding>::all(client.clone())
        .create(&PostParams::default(), &binding)
        .await?;
    let role: Role = serde_json::from_value(json!({
        "metadata": {"name": "lease-without-watch", "namespace": LEASE_NAMESPACE},
        "rules": [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                   "verbs": ["get", "create", "update", "patch"]}],
    }))?;
    Api::<Role>::namespaced(client.clone(), LEASE_NAMESPACE)
        .create(&PostParams::default(), &role)
        .await?;
    let role_binding: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "lease-without-watch", "namespace": LEASE_NAMESPACE},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                    "name": "lease-without-watch"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    }))?;
    Api::<RoleBinding>::namespaced(client, LEASE_NAMESPACE)
        .create(&PostParams::default(), &role_binding)
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_lease_watch_neither_ends_the_term_nor_starts_another() -> Result<()> {
    let _one = ONE_AT_A_TIME.lock().await;
    let user = "drover-nowatch";
    let env = TestEnv::start_with(Options {
        audit: true,
        users: vec![User::plain(user)],
    })
    .await?;
    lease_namespace(&env).await?;
    user_without_lease_watch(&env, user).await?;
    let logs_dir = tempfile::Builder::new()
        .prefix("drover-fencing-")
        .tempdir()?;
    let replica = Replica::start(&env, user, logs_dir.path(), &[])?;
    replica.wait_ready(Duration::from_secs(60)).await?;
    eventually("it to lead", Duration::from_secs(30), || async {
        Ok(replica.is_leader().await?.then_some(()))
    })
    .await?;
    // Three Lease durations with a watch that fails every time it is tried.
    tokio::time::sleep(LEASE_DURATION * 3).await;
    ensure!(
        replica.is_leader().await?,
        "it stopped leading:\n{}",
        logs(&[&replica])
    );
    let lease = Api::<Lease>::namespaced(env.client()?, LEASE_NAMESPACE)
        .get(LEASE_NAME)
        .await?;
    let spec = lease.spec.unwrap_or_default();
    ensure!(spec.holder_identity.as_deref() == Some(user));
    ensure!(
        spec.lease_transitions == Some(1),
        "the Lease changed hands: {spec:?}"
    );
    let log = replica.log_text();
    ensure!(
        log.matches("became the leader").count() == 1 && !log.contains("stepped down"),
        "the term ended or another began:\n{}",
        logs(&[&replica])
    );
    ensure!(
        log.contains("watch of the leadership Lease failed"),
        "the Lease watch never failed, so this proves nothing:\n{}",
        logs(&[&replica])
    );
    Ok(())
}
