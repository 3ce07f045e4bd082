//! The one HTTP client of the tests and the benchmark, for the plain-HTTP endpoints they reach on
//! loopback: drover's health and metrics server and etcd's JSON gateway. It is hyper-util's
//! client, the one kube's own client is built on.
//!
//! Every call builds its own client: tests run on many short-lived tokio runtimes, and a pooled
//! connection must not outlive the runtime that opened it.

use std::time::Duration;

use anyhow::{Context as _, Result, anyhow};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// How long one exchange (connect, request, whole body) may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// GET `url`: the status code and the body.
pub async fn get(url: &str) -> Result<(u16, String)> {
    let request = http::Request::get(url).body(Full::default())?;
    send(request).await.with_context(|| format!("GET {url}"))
}

/// POST the JSON `body` to `url`: the status code and the body.
pub async fn post_json(url: &str, body: &serde_json::Value) -> Result<(u16, String)> {
    let request = http::Request::post(url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.to_string())))?;
    send(request).await.with_context(|| format!("POST {url}"))
}

/// GET `path` on a loopback `port`: the status code and the body.
pub async fn http_get(port: u16, path: &str) -> Result<(u16, String)> {
    get(&format!("http://127.0.0.1:{port}{path}")).await
}

async fn send(request: http::Request<Full<Bytes>>) -> Result<(u16, String)> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let exchange = async {
        let response = client.request(request).await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        anyhow::Ok((status, String::from_utf8_lossy(&body).into_owned()))
    };
    tokio::time::timeout(TIMEOUT, exchange)
        .await
        .map_err(|_| anyhow!("no answer within {TIMEOUT:?}"))?
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// Serves one canned HTTP response on a free loopback port; returns the port.
    async fn serve_once(response: &'static str) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request).await.unwrap();
            stream.write_all(response.as_bytes()).await.unwrap();
        });
        port
    }

    #[tokio::test]
    async fn chunked_bodies_are_joined() {
        let port = serve_once(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
             3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        .await;
        assert_eq!(
            http_get(port, "/metrics").await.unwrap(),
            (200, "abcde".to_string())
        );
    }

    #[tokio::test]
    async fn a_status_other_than_200_is_returned_with_its_body() {
        let port = serve_once(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 9\r\nConnection: close\r\n\r\n\
             not ready",
        )
        .await;
        assert_eq!(
            http_get(port, "/readyz").await.unwrap(),
            (503, "not ready".to_string())
        );
    }
}
