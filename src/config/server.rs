//! `switchyard_settings.server`: the connection-level limits, with their defaults.

use std::time::Duration;

use super::{
    ServerSettings,
    litellm::RawServer,
    validate::{Failure, seconds},
};

/// `switchyard_settings.server`, with defaults.
pub(super) fn resolve(raw: &RawServer) -> Result<ServerSettings, Failure> {
    let positive = |path: &str, v: Option<f64>, default: u64| match seconds(path, v)? {
        Some(d) if d.is_zero() => Err((path.to_owned(), "expected a number of seconds > 0".into())),
        Some(d) => Ok(d),
        None => Ok(Duration::from_secs(default)),
    };
    let max_connections = match raw.max_connections {
        Some(0) => {
            return Err((
                "switchyard_settings.server.max_connections".into(),
                "expected a number > 0".into(),
            ));
        }
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        None => 10_000,
    };
    Ok(ServerSettings {
        header_read_timeout: positive(
            "switchyard_settings.server.header_read_timeout_seconds",
            raw.header_read_timeout_seconds,
            10,
        )?,
        idle_timeout: positive(
            "switchyard_settings.server.idle_timeout_seconds",
            raw.idle_timeout_seconds,
            60,
        )?,
        body_read_timeout: positive(
            "switchyard_settings.server.body_read_timeout_seconds",
            raw.body_read_timeout_seconds,
            30,
        )?,
        max_connections,
    })
}
