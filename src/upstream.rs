//! The pooled upstream HTTP client (hyper-util, rustls with webpki roots, TCP_NODELAY) and the
//! helpers that read an upstream answer.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use http::HeaderMap;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};

/// The shared client: keep-alive pooled connections, HTTP/1.1 and (over TLS, by ALPN) HTTP/2.
pub type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Builds the shared client.
pub fn client() -> Result<HttpClient, rustls::Error> {
    // One process-wide TLS provider for the clients that use the default (the MCP client's
    // reqwest); the gateway's own client is given ring explicitly below.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut http = HttpConnector::new();
    http.set_nodelay(true); // no Nagle delay on small request bodies (SPEC §12)
    http.enforce_http(false);
    http.set_connect_timeout(Some(Duration::from_secs(10)));
    http.set_keepalive(Some(Duration::from_secs(60)));
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .build(https))
}

/// Cap on an upstream error body.
pub const MAX_ERROR_BYTES: usize = 1 << 20;

/// An upstream's answer with a non-2xx status, read whole (up to `MAX_ERROR_BYTES`).
#[derive(Debug)]
pub struct Refusal {
    /// Its status.
    pub status: http::StatusCode,
    /// Its body.
    pub body: Bytes,
    /// Its `Retry-After` / `retry-after-ms`.
    pub retry_after: Option<Duration>,
}

/// Sends `request` to deployment `deployment`: the 2xx response, or the upstream's refusal (4xx,
/// 5xx; its body with every configured secret redacted) for the adapter to map into its error
/// shape. No answer at all is a 502 `upstream_unreachable`; any other status a 502
/// `upstream_invalid_response`.
pub async fn send(
    client: &HttpClient,
    request: Result<http::Request<Full<Bytes>>, http::Error>,
    deployment: &Arc<str>,
) -> Result<Result<http::Response<hyper::body::Incoming>, Refusal>, crate::error::GatewayError> {
    use crate::error::GatewayError;
    let request = request
        .map_err(|e| GatewayError::Internal(format!("building the upstream request: {e}")))?;
    let response =
        client
            .request(request)
            .await
            .map_err(|e| GatewayError::UpstreamUnreachable {
                deployment: deployment.clone(),
                reason: describe(&e),
            })?;
    let status = response.status();
    if status.is_success() {
        return Ok(Ok(response));
    }
    if !(400..=599).contains(&status.as_u16()) {
        // A redirect, an informational or a made-up status (999): not an answer the protocol has.
        return Err(GatewayError::UpstreamGarbled {
            deployment: deployment.clone(),
            reason: format!("it answered with status {}", status.as_u16()),
        });
    }
    let retry_after = retry_after(response.headers());
    let body = collect(response.into_body(), MAX_ERROR_BYTES)
        .await
        .unwrap_or_default();
    // An error body may quote the deployment's key: it never goes further with it.
    let body = match crate::secret::redact(&body) {
        std::borrow::Cow::Borrowed(_) => body,
        std::borrow::Cow::Owned(clean) => Bytes::from(clean),
    };
    Ok(Err(Refusal {
        status,
        body,
        retry_after,
    }))
}

/// Reads a whole body up to `limit` bytes.
pub async fn collect<B>(body: B, limit: usize) -> Result<Bytes, String>
where
    B: http_body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    Limited::new(body, limit)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| describe(&*e))
}

/// `retry-after-ms` (milliseconds, OpenAI's) or `retry-after` (seconds); HTTP dates are ignored.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let read = |name: &str| {
        headers
            .get(name)?
            .to_str()
            .ok()?
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    if let Some(ms) = read("retry-after-ms") {
        return Some(Duration::from_secs_f64(ms.min(1e9) / 1000.0));
    }
    read("retry-after").map(|s| Duration::from_secs_f64(s.min(1e6)))
}

/// An error and its sources, one line (never contains headers, so never a key).
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_prefers_milliseconds() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert("retry-after-ms", "250".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(250)));
        h.insert("retry-after-ms", "soon".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }
}
