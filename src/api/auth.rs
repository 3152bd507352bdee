//! Key check: when `master_key` or virtual keys are configured, every `/v1` call must present one
//! (`Authorization: Bearer`, `api-key` or `x-api-key`), compared in constant time. The caller's
//! identity goes into request extensions; which models it may use is checked once the body names
//! one (403), and `/v1/models` lists only those.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::HeaderMap,
    middleware::Next,
    response::{IntoResponse, Response},
};
use subtle::ConstantTimeEq;

use crate::{config::Config, error::GatewayError, proxy::Identity, runtime::AppState};

/// axum middleware fn: 401 without a valid key when keys are configured.
pub(super) async fn require_key(
    State(app): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let rt = app.runtime();
    match identify(&rt.config, request.headers()) {
        Ok(identity) => {
            request.extensions_mut().insert(identity);
            next.run(request).await
        }
        Err(e) => e.into_response(),
    }
}

/// The caller's identity from its headers.
pub(super) fn identify(config: &Config, headers: &HeaderMap) -> Result<Identity, GatewayError> {
    if config.master_key.is_none() && config.keys.is_empty() {
        return Ok(Identity::Anonymous);
    }
    let Some(presented) = presented_key(headers) else {
        return Err(GatewayError::Unauthorized {
            message: "Missing API key: send `Authorization: Bearer <key>` (or an `api-key` / `x-api-key` header)".into(),
        });
    };
    // Compare against every key without stopping early, so timing does not say which matched.
    let mut found = None;
    if let Some(master) = &config.master_key {
        if bool::from(master.expose().as_bytes().ct_eq(presented.as_bytes())) {
            found = Some(Identity::Master);
        }
    }
    for (n, key) in config.keys.iter().enumerate() {
        if bool::from(key.key.expose().as_bytes().ct_eq(presented.as_bytes())) && found.is_none() {
            found = Some(Identity::Virtual(n));
        }
    }
    found.ok_or_else(|| GatewayError::Unauthorized {
        message: "Invalid API key".into(),
    })
}

fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let v = v.trim();
        let token = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
            .unwrap_or(v)
            .trim();
        if !token.is_empty() {
            return Some(token);
        }
    }
    ["api-key", "x-api-key"].iter().find_map(|name| {
        headers
            .get(*name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|s| !s.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(yaml: &str) -> Config {
        let env: HashMap<String, String> = HashMap::new();
        crate::config::parse(yaml, "t", &env).unwrap().0
    }

    fn headers(name: &'static str, value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, value.parse().unwrap());
        h
    }

    #[test]
    fn identifies_callers() {
        let c = config(
            "model_list: [{model_name: a, litellm_params: {model: mock/a}}, {model_name: b, litellm_params: {model: mock/b}}]\n\
             general_settings: {master_key: sk-master}\n\
             switchyard_settings: {keys: [{key: sk-team, models: [a]}]}",
        );
        assert_eq!(
            identify(&c, &headers("authorization", "Bearer sk-master")).ok(),
            Some(Identity::Master)
        );
        assert_eq!(
            identify(&c, &headers("x-api-key", "sk-team")).ok(),
            Some(Identity::Virtual(0))
        );
        assert_eq!(
            identify(&c, &headers("api-key", "sk-team")).ok(),
            Some(Identity::Virtual(0))
        );
        assert!(identify(&c, &headers("authorization", "Bearer nope")).is_err());
        assert!(identify(&c, &HeaderMap::new()).is_err());
        assert!(Identity::Virtual(0).allows(&c, "a"));
        assert!(!Identity::Virtual(0).allows(&c, "b"));
        let open = config("model_list: [{model_name: a, litellm_params: {model: mock/a}}]");
        assert_eq!(
            identify(&open, &HeaderMap::new()).ok(),
            Some(Identity::Anonymous)
        );
    }
}
