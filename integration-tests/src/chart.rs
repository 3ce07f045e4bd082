//! The Helm chart, rendered with helm and applied to a control plane: what the tests, the demo
//! and the RBAC checks install. helm is built from its Go module by
//! `integration-tests/scripts/install-tools.sh` (cached; the first build takes a few minutes).

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, anyhow, ensure};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DynamicObject, ObjectMeta, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::{self, Scope};
use kube::{Client, ResourceExt};
use tokio::sync::OnceCell;

use crate::{TestEnv, documents, repo_root};

/// The helm binary, built once per test process.
pub async fn helm() -> Result<&'static PathBuf> {
    static HELM: OnceCell<PathBuf> = OnceCell::const_new();
    HELM.get_or_try_init(|| async {
        let script = repo_root().join("integration-tests/scripts/install-tools.sh");
        let output = tokio::process::Command::new(&script)
            .arg("helm")
            .stderr(std::process::Stdio::inherit())
            .output()
            .await
            .with_context(|| format!("running {}", script.display()))?;
        ensure!(output.status.success(), "{} helm failed", script.display());
        let stdout = String::from_utf8(output.stdout)?;
        let path = stdout
            .lines()
            .last()
            .ok_or_else(|| anyhow!("{} printed no path", script.display()))?;
        Ok(PathBuf::from(path))
    })
    .await
}

/// `helm template <release> charts/drover --namespace <namespace> <args>`.
pub async fn render(release: &str, namespace: &str, args: &[&str]) -> Result<String> {
    let output = Command::new(helm().await?)
        .args(["template", release])
        .arg(repo_root().join("charts/drover"))
        .args(["--namespace", namespace])
        .args(args)
        .output()
        .context("running helm template")?;
    ensure!(
        output.status.success(),
        "helm template {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8(output.stdout)?)
}

/// Server-side applies every document (`dry_run`: validated and admitted, not stored).
pub async fn apply(client: &Client, yaml: &str, dry_run: bool) -> Result<Vec<String>> {
    let mut params = PatchParams::apply("drover-chart-tests").force();
    params.dry_run = dry_run;
    let mut applied = Vec::new();
    for doc in documents(yaml)? {
        let object: DynamicObject = serde_json::from_value(doc)?;
        let types = object
            .types
            .as_ref()
            .ok_or_else(|| anyhow!("a document without apiVersion/kind"))?;
        let gvk = GroupVersionKind::try_from(types)?;
        let name = object.name_any();
        let (resource, capabilities) = discovery::pinned_kind(client, &gvk)
            .await
            .with_context(|| format!("discovering {}", gvk.kind))?;
        let api: Api<DynamicObject> = match capabilities.scope {
            Scope::Namespaced => Api::namespaced_with(
                client.clone(),
                &object.namespace().unwrap_or_else(|| "default".into()),
                &resource,
            ),
            Scope::Cluster => Api::all_with(client.clone(), &resource),
        };
        api.patch(&name, &params, &Patch::Apply(&object))
            .await
            .with_context(|| format!("applying {} {name}", gvk.kind))?;
        applied.push(format!("{}/{name}", gvk.kind));
    }
    Ok(applied)
}

pub async fn ensure_namespace(client: &Client, name: &str) -> Result<()> {
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    match Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        Err(e) => Err(e).with_context(|| format!("creating namespace {name}")),
    }
}

/// Installs the chart (rendered, applied) as `release` in a fresh namespace and returns a client
/// with the token of its ServiceAccount.
pub async fn install(env: &TestEnv, release: &str, args: &[&str]) -> Result<(String, Client)> {
    let (namespace, token) = install_token(env, release, args).await?;
    Ok((namespace, env.client_for_token(&token).await?))
}

/// Installs the chart as `release` in a fresh namespace and returns the namespace and a token of
/// its ServiceAccount (the identity drover runs with in a chart install).
pub async fn install_token(
    env: &TestEnv,
    release: &str,
    args: &[&str],
) -> Result<(String, String)> {
    let admin = env.client()?;
    let namespace = env.unique_name("drover");
    ensure_namespace(&admin, &namespace).await?;
    let mut all_args = vec!["--set", "crds.install=false"];
    all_args.extend_from_slice(args);
    let yaml = render(release, &namespace, &all_args).await?;
    apply(&admin, &yaml, false).await?;
    let token = env.token_for_service_account(&namespace, release).await?;
    Ok((namespace, token))
}
