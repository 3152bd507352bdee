//! Where shared state lives (SPEC §10), from LiteLLM's keys: `router_settings.redis_url` or
//! `redis_host`/`redis_port`/`redis_password`, then `litellm_settings.cache_params`
//! (`host`/`port`/`password`/`url`, with `type: redis`), then the environment (`REDIS_URL`, or
//! `REDIS_HOST`/`REDIS_PORT`/`REDIS_PASSWORD`), as LiteLLM reads them; the first source that
//! names a server wins. `switchyard_settings.redis` adds `on_failure` and `timeout_seconds`.

use std::time::Duration;

use super::{
    Warning,
    env::{Env, resolve},
    litellm::{RawConfig, StringOrNumber},
    validate::Failure,
};
use crate::secret::Secret;

/// Where shared state lives and how to treat Redis trouble.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS).
    pub url: Secret,
    /// Bound on one Redis round trip (`switchyard_settings.redis.timeout_seconds`).
    pub timeout: Duration,
    /// What limited keys get while Redis is unavailable.
    pub on_failure: OnFailure,
    /// Prefix of every key (`cache_params.namespace`, default `switchyard`).
    pub namespace: String,
}

/// `switchyard_settings.redis.on_failure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnFailure {
    /// Fall back to per-replica state (the default).
    #[default]
    Allow,
    /// Refuse requests of limited keys with 503 while Redis is unavailable.
    Deny,
}

/// Default bound on one Redis round trip.
const DEFAULT_TIMEOUT: Duration = Duration::from_millis(250);

/// One place that may name a server.
struct Source<'a> {
    path: &'static str,
    url: Option<&'a str>,
    host: Option<&'a str>,
    port: Option<String>,
    password: Option<&'a str>,
}

/// The resolved settings, or `None` when no source names a server. Settings that cannot form a
/// Redis URL warn and leave Redis off: the gateway still starts, per replica. (An unset
/// `os.environ/NAME` is an error naming it before this runs, as everywhere in the config.)
pub(super) fn resolve_settings(
    raw: &RawConfig,
    origin: &str,
    env: &dyn Env,
    warnings: &mut Vec<Warning>,
) -> Result<Option<RedisSettings>, Failure> {
    let rs = &raw.router_settings;
    let cp = raw.litellm_settings.cache_params.as_ref();
    let env_url = env.var("REDIS_URL");
    let env_host = env.var("REDIS_HOST");
    let env_password = env.var("REDIS_PASSWORD");
    let sources = [
        Source {
            path: "router_settings",
            url: rs.redis_url.as_deref(),
            host: rs.redis_host.as_deref(),
            port: rs.redis_port.as_ref().map(port_text),
            password: rs.redis_password.as_deref(),
        },
        Source {
            path: "litellm_settings.cache_params",
            url: cp.and_then(|c| c.url.as_deref()),
            host: cp.and_then(|c| c.host.as_deref()),
            port: cp.and_then(|c| c.port.as_ref()).map(port_text),
            password: cp.and_then(|c| c.password.as_deref()),
        },
        Source {
            path: "environment (REDIS_URL / REDIS_HOST)",
            url: env_url.as_deref(),
            host: env_host.as_deref(),
            port: env.var("REDIS_PORT"),
            password: env_password.as_deref(),
        },
    ];
    let Some(source) = sources.iter().find(|s| s.url.is_some() || s.host.is_some()) else {
        return Ok(None);
    };
    let url = match url(source, env) {
        Ok(url) => url,
        Err(why) => {
            warnings.push(Warning(format!(
                "{origin}: {}: {why}; shared state stays per replica",
                source.path
            )));
            return Ok(None);
        }
    };
    let sw = &raw.switchyard_settings.redis;
    let on_failure = match sw.on_failure.as_deref() {
        None => OnFailure::Allow,
        Some(s) => OnFailure::parse(s).ok_or_else(|| {
            (
                "switchyard_settings.redis.on_failure".to_owned(),
                format!("expected `allow` or `deny`, got `{s}`"),
            )
        })?,
    };
    let timeout = match sw.timeout_seconds {
        None => DEFAULT_TIMEOUT,
        Some(t) if t.is_finite() && t > 0.0 && t <= 60.0 => Duration::from_secs_f64(t),
        Some(t) => {
            return Err((
                "switchyard_settings.redis.timeout_seconds".into(),
                format!("expected seconds in (0, 60], got {t}"),
            ));
        }
    };
    let namespace = cp
        .and_then(|c| c.namespace.clone())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "switchyard".into());
    Ok(Some(RedisSettings {
        url,
        timeout,
        on_failure,
        namespace,
    }))
}

/// The source's URL: given, or built from host, port and password.
fn url(source: &Source<'_>, env: &dyn Env) -> Result<Secret, String> {
    if let Some(url) = source.url {
        let url = resolve(env, url)?;
        if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
            return Err("expected a `redis://` or `rediss://` URL".into());
        }
        return Ok(Secret::new(url));
    }
    let host = resolve(env, source.host.unwrap_or("localhost"))?;
    let port = match &source.port {
        Some(p) => resolve(env, p)?,
        None => "6379".into(),
    };
    let port: u16 = port
        .trim()
        .parse()
        .map_err(|_| format!("redis port `{port}` is not a port number"))?;
    let password = source.password.map(|p| resolve(env, p)).transpose()?;
    let auth = password
        .map(|p| format!(":{}@", percent_encode(&p)))
        .unwrap_or_default();
    Ok(Secret::new(format!("redis://{auth}{host}:{port}")))
}

fn port_text(p: &StringOrNumber) -> String {
    match p {
        StringOrNumber::String(s) => s.clone(),
        StringOrNumber::Int(i) => i.to_string(),
        StringOrNumber::Float(f) => f.to_string(),
    }
}

/// Percent-encodes what a password may not carry as is in a URL's userinfo.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// === impl RedisSettings ===

impl RedisSettings {
    /// The URL with its password replaced by `***`: safe to log and print.
    pub fn display(&self) -> String {
        redact(self.url.expose())
    }
}

impl std::fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSettings")
            .field("url", &self.display())
            .field("timeout", &self.timeout)
            .field("on_failure", &self.on_failure)
            .field("namespace", &self.namespace)
            .finish()
    }
}

/// `scheme://user:pass@host` → `scheme://user:***@host`; anything else unchanged.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or("", |(u, _)| u);
            format!("{scheme}://{user}:***@{host}{path}")
        }
        None => url.to_owned(),
    }
}

// === impl OnFailure ===

impl OnFailure {
    /// Parses `allow` / `deny`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "allow" => Some(Self::Allow),
            "deny" => Some(Self::Deny),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::redact;
    use crate::config::{Config, ConfigError, OnFailure, Warning, parse};

    const ONE: &str = "model_list:\n  - model_name: gpt\n    litellm_params: { model: mock/gpt }\n";

    fn load(extra: &str, env: &[(&str, &str)]) -> Result<(Config, Vec<Warning>), ConfigError> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        parse(&format!("{ONE}{extra}"), "c.yaml", &env)
    }

    #[test]
    fn litellm_keys_in_order_and_the_password_never_shows() {
        let (c, _) = load("", &[]).unwrap();
        assert!(c.redis.is_none(), "no server named: per replica");

        let (c, w) = load(
            "router_settings:\n  redis_host: os.environ/RH\n  redis_port: 6380\n  redis_password: os.environ/RP\n",
            &[("RH", "cache.internal"), ("RP", "p@ss:word")],
        )
        .unwrap();
        assert!(w.is_empty(), "{w:?}");
        let r = c.redis.unwrap();
        assert_eq!(r.url.expose(), "redis://:p%40ss%3Aword@cache.internal:6380");
        assert_eq!(r.display(), "redis://:***@cache.internal:6380");
        assert!(!format!("{r:?}").contains("word"));
        assert_eq!(
            (r.on_failure, r.namespace.as_str()),
            (OnFailure::Allow, "switchyard")
        );

        let (c, _) = load(
            "litellm_settings:\n  cache: true\n  cache_params: { type: redis, host: h, port: \"7000\", namespace: team }\n",
            &[("REDIS_URL", "redis://env:1")],
        )
        .unwrap();
        let r = c.redis.unwrap();
        assert_eq!(
            (r.url.expose(), r.namespace.as_str()),
            ("redis://h:7000", "team"),
            "cache_params before the environment"
        );

        let (c, _) = load("", &[("REDIS_HOST", "envhost"), ("REDIS_PORT", "6390")]).unwrap();
        assert_eq!(c.redis.unwrap().url.expose(), "redis://envhost:6390");
    }

    #[test]
    fn an_unset_variable_and_bad_settings_name_their_key() {
        let e = load("router_settings:\n  redis_url: os.environ/NOPE\n", &[]).unwrap_err();
        assert_eq!(e.path, "router_settings.redis_url");
        assert!(e.message.contains("`NOPE`"), "{e}");

        let e = load(
            "router_settings:\n  redis_url: redis://h\nswitchyard_settings:\n  redis: { on_failure: sometimes }\n",
            &[],
        )
        .unwrap_err();
        assert_eq!(e.path, "switchyard_settings.redis.on_failure");
        let (c, _) = load(
            "router_settings:\n  redis_url: redis://h\nswitchyard_settings:\n  redis: { on_failure: deny, timeout_seconds: 0.05 }\n",
            &[],
        )
        .unwrap();
        let r = c.redis.unwrap();
        assert_eq!(r.on_failure, OnFailure::Deny);
        assert_eq!(r.timeout, std::time::Duration::from_millis(50));
    }

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            redact("redis://:hunter2@cache:6379/0"),
            "redis://:***@cache:6379/0"
        );
        assert_eq!(redact("rediss://app:p%40ss@h:1"), "rediss://app:***@h:1");
        assert_eq!(redact("redis://h:6379"), "redis://h:6379");
    }
}
