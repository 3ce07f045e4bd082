//! The API server's own count of the requests it served (`apiserver_request_total`) and of the
//! watches open (`apiserver_longrunning_requests`: a watch enters the request counter only when
//! it ends), to count what drover sends in a window where nothing else asks for the kinds it
//! uses.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use kube::Client;

/// The resources drover lists, watches, reads or writes.
const DROVER_RESOURCES: &[&str] = &[
    "clusters",
    "clustergroups",
    "fleetworkspaces",
    "namespaces",
    "secrets",
    "events",
    "rolebindings",
    "clusterroles",
    "clusterrolebindings",
    "customresourcedefinitions",
];

/// Requests on drover's resources, by verb (`LIST`, `GET`, `PATCH`, …).
pub type Requests = BTreeMap<String, u64>;

/// The API server's counts at one time.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    /// Requests served so far, by verb.
    served: Requests,
    /// Watches open now.
    open_watches: u64,
}

/// Reads the API server's `/metrics`.
pub async fn requests(client: &Client) -> Result<Counts> {
    let request = http::Request::get("/metrics").body(Vec::new())?;
    let text = client
        .request_text(request)
        .await
        .context("reading the API server's /metrics")?;
    Ok(Counts {
        served: parse(&text, "apiserver_request_total{"),
        open_watches: parse(&text, "apiserver_longrunning_requests{")
            .get("WATCH")
            .copied()
            .unwrap_or(0),
    })
}

fn label<'a>(labels: &'a str, name: &str) -> Option<&'a str> {
    labels.split(',').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| v.trim_matches('"'))
    })
}

fn parse(text: &str, series: &str) -> Requests {
    let mut out = Requests::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(series) else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once("} ") else {
            continue;
        };
        let resource = label(labels, "resource").unwrap_or_default();
        if !DROVER_RESOURCES.contains(&resource) {
            continue;
        }
        let verb = label(labels, "verb").unwrap_or_default().to_string();
        if let Ok(n) = value.trim().parse::<f64>() {
            *out.entry(verb).or_default() += n as u64;
        }
    }
    out
}

/// The requests sent between `before` and `after`, by verb: those served, and as `WATCH` the
/// watches opened (and not yet ended) meanwhile.
pub fn since(after: &Counts, before: &Counts) -> Requests {
    let mut out: Requests = after
        .served
        .iter()
        .filter_map(|(verb, &n)| {
            let d = n.saturating_sub(before.served.get(verb).copied().unwrap_or(0));
            (d > 0).then(|| (verb.clone(), d))
        })
        .collect();
    let opened = after.open_watches.saturating_sub(before.open_watches);
    if opened > 0 {
        *out.entry("WATCH".into()).or_default() += opened;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_on_drovers_resources_are_counted_by_verb() {
        let text = "# TYPE apiserver_request_total counter\n\
            apiserver_request_total{code=\"200\",component=\"apiserver\",dry_run=\"\",group=\"fleet.cattle.io\",resource=\"clusters\",scope=\"cluster\",subresource=\"\",verb=\"LIST\",version=\"v1alpha1\"} 2\n\
            apiserver_request_total{code=\"0\",component=\"apiserver\",dry_run=\"\",group=\"\",resource=\"namespaces\",scope=\"cluster\",subresource=\"\",verb=\"WATCH\",version=\"v1\"} 3\n\
            apiserver_request_total{code=\"200\",component=\"apiserver\",dry_run=\"\",group=\"coordination.k8s.io\",resource=\"leases\",scope=\"namespace\",subresource=\"\",verb=\"PUT\",version=\"v1\"} 40\n";
        let served = parse(text, "apiserver_request_total{");
        assert_eq!(served.get("LIST"), Some(&2));
        assert_eq!(served.get("WATCH"), Some(&3));
        assert_eq!(served.get("PUT"), None);
        let before = Counts {
            served: Requests::from([("LIST".to_string(), 1)]),
            open_watches: 4,
        };
        let after = Counts {
            served,
            open_watches: 6,
        };
        let sent = since(&after, &before);
        assert_eq!(sent.get("LIST"), Some(&1));
        assert_eq!(sent.get("WATCH"), Some(&5));
    }
}
