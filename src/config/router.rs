//! The router keys LiteLLM reads from `router_settings` or `litellm_settings`, with LiteLLM's
//! precedence, and the fallback lists.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::{
    litellm::{RawLitellmSettings, RawRouterSettings},
    validate::Failure,
};

/// A router key LiteLLM reads from `router_settings` or, failing that, `litellm_settings`:
/// (the key path it came from, its value).
type Keyed<T> = (&'static str, T);

/// The router keys after LiteLLM's precedence (`Router.__init__`): `router_settings` first; for
/// `num_retries` and `allowed_fails` a set value wins even when 0 (`is not None`), for
/// `timeout`, `cooldown_time` and the fallback lists only a non-zero / non-empty one (`or`).
/// `litellm_settings.request_timeout` is LiteLLM's name for `timeout` there.
pub(super) struct RouterKeys<'a> {
    pub(super) num_retries: Option<u32>,
    pub(super) allowed_fails: Option<u32>,
    pub(super) timeout: Keyed<Option<f64>>,
    pub(super) cooldown_time: Keyed<Option<f64>>,
    pub(super) fallbacks: Keyed<&'a [FallbackList]>,
    pub(super) context_window_fallbacks: Keyed<&'a [FallbackList]>,
    pub(super) content_policy_fallbacks: Keyed<&'a [FallbackList]>,
}

type FallbackList = BTreeMap<String, Vec<String>>;

pub(super) fn router_keys<'a>(
    rs: &'a RawRouterSettings,
    ls: &'a RawLitellmSettings,
) -> RouterKeys<'a> {
    fn number(
        router: (&'static str, Option<f64>),
        litellm: (&'static str, Option<f64>),
    ) -> (&'static str, Option<f64>) {
        match router.1 {
            Some(v) if v != 0.0 => router,
            _ if litellm.1.is_some() => litellm,
            _ => router,
        }
    }
    fn list<'a>(
        router: (&'static str, &'a [FallbackList]),
        litellm: (&'static str, &'a [FallbackList]),
    ) -> (&'static str, &'a [FallbackList]) {
        if router.1.is_empty() { litellm } else { router }
    }
    RouterKeys {
        num_retries: rs.num_retries.or(ls.num_retries),
        allowed_fails: rs.allowed_fails.or(ls.allowed_fails),
        timeout: number(
            ("router_settings.timeout", rs.timeout),
            ("litellm_settings.request_timeout", ls.request_timeout),
        ),
        cooldown_time: number(
            ("router_settings.cooldown_time", rs.cooldown_time),
            ("litellm_settings.cooldown_time", ls.cooldown_time),
        ),
        fallbacks: list(
            ("router_settings.fallbacks", &rs.fallbacks),
            ("litellm_settings.fallbacks", &ls.fallbacks),
        ),
        context_window_fallbacks: list(
            (
                "router_settings.context_window_fallbacks",
                &rs.context_window_fallbacks,
            ),
            (
                "litellm_settings.context_window_fallbacks",
                &ls.context_window_fallbacks,
            ),
        ),
        content_policy_fallbacks: list(
            (
                "router_settings.content_policy_fallbacks",
                &rs.content_policy_fallbacks,
            ),
            (
                "litellm_settings.content_policy_fallbacks",
                &ls.content_policy_fallbacks,
            ),
        ),
    }
}

/// Group -> fallback groups, each name checked against `groups`.
pub(super) fn fallbacks(
    path: &str,
    raw: &[FallbackList],
    groups: &HashSet<&str>,
) -> Result<HashMap<String, Vec<String>>, Failure> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for (i, map) in raw.iter().enumerate() {
        for (from, to) in map {
            for name in std::iter::once(from).chain(to) {
                if !groups.contains(name.as_str()) {
                    return Err((
                        format!("{path}[{i}].{from}"),
                        format!("unknown model group `{name}`"),
                    ));
                }
            }
            out.entry(from.clone())
                .or_default()
                .extend(to.iter().cloned());
        }
    }
    Ok(out)
}
