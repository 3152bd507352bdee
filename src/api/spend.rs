//! `GET /key/info` and `GET /spend/keys` (SPEC §14), in LiteLLM's shapes: a key's spend in its
//! current budget period, its budget, when the budget resets, its limits and models. A key is
//! named by its alias and LiteLLM's `token` (the SHA-256 of the key), never by its value.

use std::{sync::Arc, time::Duration};

use axum::{
    Extension, Json,
    extract::{Query, State},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use crate::{
    error::GatewayError,
    proxy::Identity,
    runtime::{AppState, Runtime},
    spend::token,
};

/// `?key=`: a key's value or its token (the master key may ask about any key).
#[derive(Deserialize)]
pub(super) struct KeyQuery {
    #[serde(default)]
    key: Option<String>,
}

/// GET `/key/info`: the caller's own key, or with the master key any key (`?key=`).
pub(super) async fn key_info(
    State(app): State<Arc<AppState>>,
    Extension(identity): Extension<Identity>,
    Query(query): Query<KeyQuery>,
) -> Response {
    let rt = app.runtime();
    let n = match (&identity, query.key.as_deref()) {
        (Identity::Master, Some(asked)) => match find(&rt, asked) {
            Some(n) => n,
            None => return not_found("No virtual key matches `key`"),
        },
        (Identity::Virtual(own), None) => *own,
        (Identity::Virtual(own), Some(asked)) => match find(&rt, asked) {
            Some(n) if n == *own => n,
            _ => {
                return refuse(
                    axum::http::StatusCode::FORBIDDEN,
                    "A virtual key may only read its own info",
                );
            }
        },
        (Identity::Master, None) => {
            return GatewayError::invalid("give the key to look up as `?key=`", Some("key"))
                .into_response();
        }
        (Identity::Anonymous, _) => return not_found("No virtual keys are configured"),
    };
    match info(&rt, n).await {
        Some(info) => {
            let token = info["token"].clone();
            Json(json!({"key": token, "info": info})).into_response()
        }
        None => not_found("No virtual key matches `key`"),
    }
}

/// GET `/spend/keys` (master key): every virtual key's info.
pub(super) async fn keys(
    State(app): State<Arc<AppState>>,
    Extension(identity): Extension<Identity>,
) -> Response {
    if identity != Identity::Master {
        return refuse(
            axum::http::StatusCode::FORBIDDEN,
            "/spend/keys needs the master key",
        );
    }
    let rt = app.runtime();
    let mut out = Vec::with_capacity(rt.config.keys.len());
    for n in 0..rt.config.keys.len() {
        if let Some(info) = info(&rt, n).await {
            out.push(info);
        }
    }
    Json(Value::Array(out)).into_response()
}

fn not_found(message: &str) -> Response {
    let body = json!({"error": {"message": message, "type": "not_found_error", "param": "key", "code": "key_not_found"}});
    (axum::http::StatusCode::NOT_FOUND, Json(body)).into_response()
}

fn refuse(status: axum::http::StatusCode, message: &str) -> Response {
    let body = json!({"error": {"message": message, "type": "permission_error", "param": null, "code": "master_key_required"}});
    (status, Json(body)).into_response()
}

/// The virtual key whose value or token is `asked` (compared in constant time).
fn find(rt: &Runtime, asked: &str) -> Option<usize> {
    let asked_token = token(asked);
    let mut found = None;
    for (n, (k, account)) in rt.config.keys.iter().zip(rt.spend.keys()).enumerate() {
        let by_value = bool::from(k.key.expose().as_bytes().ct_eq(asked.as_bytes()));
        let by_token = bool::from(account.token.as_bytes().ct_eq(asked.as_bytes()));
        let by_hash = bool::from(account.token.as_bytes().ct_eq(asked_token.as_bytes()));
        if (by_value || by_token || by_hash) && found.is_none() {
            found = Some(n);
        }
    }
    found
}

/// LiteLLM's key object for virtual key `n`.
async fn info(rt: &Runtime, n: usize) -> Option<Value> {
    let key = rt.config.keys.get(n)?;
    let account = rt.spend.keys().get(n)?;
    let spent = match rt.spend.spent(account).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "key spend not read");
            Default::default()
        }
    };
    let budget = key.budget;
    Some(json!({
        "token": &*account.token,
        "key_alias": &*account.label,
        "spend": spent.micros as f64 / 1e6,
        "max_budget": budget.map(|b| b.max_micros as f64 / 1e6),
        "budget_duration": budget.and_then(|b| b.duration).map(duration_text),
        "budget_reset_at": spent.resets_in.map(reset_at),
        "models": &key.models,
        "rpm_limit": key.rpm_limit,
        "tpm_limit": key.tpm_limit,
    }))
}

/// `30s`, `1h`, `1d` (LiteLLM's notation) for a budget period.
fn duration_text(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// The UTC time `after` from now, ISO 8601 (`2026-01-31T12:00:00Z`).
fn reset_at(after: Duration) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    iso8601((now + after).as_secs())
}

/// Unix seconds -> `YYYY-MM-DDTHH:MM:SSZ` (Howard Hinnant's civil-from-days).
fn iso8601(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_durations_read_as_litellm_writes_them() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(1_767_225_599), "2025-12-31T23:59:59Z");
        assert_eq!(duration_text(Duration::from_secs(30)), "30s");
        assert_eq!(duration_text(Duration::from_secs(3600)), "1h");
        assert_eq!(duration_text(Duration::from_secs(30 * 86_400)), "30d");
    }
}
