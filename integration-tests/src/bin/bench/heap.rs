//! `bench --heap-view N`: where a cached object's memory goes, without a control plane. The
//! benchmark's realistic objects are serialized as the API server serves them (without
//! `managedFields`), and for each kind the heap bytes per object are counted (by this program's
//! counting allocator, N objects kept alive together): as plain JSON (what a watch or a list
//! page holds before drover's type takes an object), decoded whole into drover's type, and as
//! drover's cache keeps it (after the trims the watches apply). The store's keys, its `Arc`s
//! and the indexes come on top.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result};
use drover::api::{FleetCluster, MgmtCluster, ProvCluster};
use drover::runtime::decode::decode_object;
use drover::runtime::watches::keep_own_managed_fields;
use kube::api::DynamicObject;
use serde_json::{Value, json};

use crate::objects;

/// The system allocator, counting the bytes held.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call goes to the system allocator unchanged; only the sizes are counted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract is passed on.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            LIVE.fetch_add(new_size, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Heap bytes per object of what `make` returns for each of `texts`, all kept alive together.
fn per_object<T>(texts: &[String], make: impl Fn(&str) -> Result<T>) -> Result<f64> {
    let mut kept = Vec::with_capacity(texts.len());
    let before = LIVE.load(Ordering::Relaxed);
    for text in texts {
        kept.push(make(text)?);
    }
    let bytes = LIVE.load(Ordering::Relaxed).saturating_sub(before);
    drop(kept);
    Ok(bytes as f64 / texts.len().max(1) as f64)
}

fn plain(text: &str) -> Result<DynamicObject> {
    Ok(serde_json::from_str(text)?)
}

fn typed<K>(text: &str, lean: fn(&mut K)) -> Result<K>
where
    K: kube::Resource<DynamicType = ()> + serde::de::DeserializeOwned,
{
    let mut obj: K = decode_object(plain(text)?).map_err(|(_, e)| anyhow::anyhow!("{e}"))?;
    lean(&mut obj);
    Ok(obj)
}

fn merge(target: &mut Value, patch: Value) {
    json_patch::merge(target, &patch);
}

/// One row: the kind, its size as served, and the heap bytes per object in each form.
struct Row {
    kind: &'static str,
    served: f64,
    json: f64,
    whole: f64,
    cached: f64,
}

fn row<K>(kind: &'static str, texts: &[String], lean: fn(&mut K)) -> Result<Row>
where
    K: kube::Resource<DynamicType = ()> + serde::de::DeserializeOwned,
{
    let served = texts.iter().map(String::len).sum::<usize>() as f64 / texts.len().max(1) as f64;
    Ok(Row {
        kind,
        served,
        json: per_object(texts, plain)?,
        whole: per_object(texts, |t| typed::<K>(t, |_| {}))?,
        cached: per_object(texts, |t| typed::<K>(t, lean))?,
    })
}

/// Prints the heap view for `n` objects of each kind.
pub fn run(n: usize) -> Result<()> {
    let workspace = "fleet-default";
    let names: Vec<String> = (0..n).map(|i| format!("c-{i:05}")).collect();
    let mgmt: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut mgmt = objects::legacy_mgmt_cluster(name, Some(workspace), i);
            merge(&mut mgmt, objects::agent_status(name, Some(workspace), i));
            mgmt["metadata"]["uid"] = json!(format!("00000000-0000-0000-0000-{i:012}"));
            mgmt.to_string()
        })
        .collect();
    let prov: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            serde_json::to_string(&objects::prov_cluster(workspace, name, i)).context("prov")
        })
        .collect::<Result<_>>()?;
    let fleet: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut fleet = json!({
                "apiVersion": "fleet.cattle.io/v1alpha1",
                "kind": "Cluster",
                "metadata": {"name": name, "namespace": workspace,
                    "labels": {"management.cattle.io/cluster-name": name,
                        "provisioning.cattle.io/cluster-name": name},
                    "uid": format!("00000000-0000-0000-0001-{i:012}")},
                "spec": {"kubeConfigSecret": format!("{name}-kubeconfig"),
                    "kubeConfigSecretNamespace": workspace,
                    "agentNamespace": "cattle-fleet-system"},
            });
            merge(&mut fleet, objects::fleet_status(workspace, name, i));
            fleet.to_string()
        })
        .collect();
    let rows = [
        row::<MgmtCluster>("mgmt (imported, with agent status)", &mgmt, |m| {
            m.keep_read_conditions();
            keep_own_managed_fields(m);
        })?,
        row::<ProvCluster>("prov (user's, with rkeConfig)", &prov, |p| {
            keep_own_managed_fields(p)
        })?,
        row::<FleetCluster>("Fleet (with fleet-controller status)", &fleet, |f| {
            f.keep_read_conditions();
            keep_own_managed_fields(f);
        })?,
    ];
    println!("heap bytes per object, {n} objects of each kind kept alive together");
    println!("| kind | served | as plain JSON | decoded whole | as cached |");
    println!("|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.0} |",
            r.kind, r.served, r.json, r.whole, r.cached
        );
    }
    Ok(())
}
