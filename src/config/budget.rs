//! Spend settings (SPEC §14): budgets (`max_budget` + `budget_duration`, as LiteLLM writes
//! them), key aliases and the price table.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use super::{
    Budget, DeploymentConfig, VirtualKeyConfig, litellm::RawDeployment, validate::Failure,
};
use crate::pricing::PriceTable;

/// The longest alias accepted (it is a metric label).
const MAX_ALIAS: usize = 64;

/// `max_budget` (USD) and `budget_duration` at `path`.
pub(super) fn budget(
    path: &str,
    max_budget: Option<f64>,
    duration: Option<&str>,
) -> Result<Option<Budget>, Failure> {
    let Some(usd) = max_budget else {
        if duration.is_some() {
            return Err((
                format!("{path}.budget_duration"),
                "`budget_duration` needs a `max_budget`".into(),
            ));
        }
        return Ok(None);
    };
    if !(0.0..1e12).contains(&usd) {
        return Err((
            format!("{path}.max_budget"),
            format!("expected an amount of USD >= 0, got {usd}"),
        ));
    }
    let duration = duration
        .map(|d| parse_duration(d).map_err(|m| (format!("{path}.budget_duration"), m)))
        .transpose()?;
    Ok(Some(Budget {
        max_micros: (usd * 1e6).round() as u64,
        duration,
    }))
}

/// LiteLLM's durations: `30s`, `10m`, `1h`, `1d`, `1w`, `1mo` (30 days).
pub(super) fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "mo" => 30 * 86_400,
        _ => 0,
    };
    match n.parse::<u64>() {
        Ok(n) if n > 0 && seconds > 0 && n < 1_000_000 => Ok(Duration::from_secs(n * seconds)),
        _ => Err(format!(
            "expected a duration such as `30s`, `10m`, `1h`, `1d`, `1w` or `1mo`, got `{text}`"
        )),
    }
}

/// Checks aliases: non-empty, short, printable, unique, and not a built-in label.
pub(super) fn check_aliases(keys: &[VirtualKeyConfig]) -> Result<(), Failure> {
    let mut seen = HashSet::new();
    for (i, k) in keys.iter().enumerate() {
        let Some(alias) = &k.alias else { continue };
        let path = format!("switchyard_settings.keys[{i}].key_alias");
        let printable = alias
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:@/".contains(c));
        if alias.is_empty() || alias.len() > MAX_ALIAS || !printable {
            return Err((
                path,
                format!("expected 1-{MAX_ALIAS} characters of [A-Za-z0-9-_.:@/]"),
            ));
        }
        if ["master", "anonymous"].contains(&alias.as_str()) || alias.starts_with("key-") {
            return Err((
                path,
                format!("`{alias}` is reserved (master, anonymous, key-<n>)"),
            ));
        }
        if !seen.insert(alias) {
            return Err((path, format!("alias `{alias}` is used twice")));
        }
        // An alias must never be the key itself (it is shown in metrics).
        if k.key.expose() == alias {
            return Err((path, "the alias must not be the key".into()));
        }
    }
    Ok(())
}

/// Model group -> budget, from `model_info.max_budget` of its entries (the smallest wins when
/// several set one).
pub(super) fn group_budgets(
    entries: &[RawDeployment],
    deployments: &[DeploymentConfig],
) -> Result<HashMap<String, Budget>, Failure> {
    let mut out: HashMap<String, Budget> = HashMap::new();
    for (i, e) in entries.iter().enumerate() {
        let info = &e.model_info;
        let path = format!("model_list[{i}].model_info");
        let Some(b) = budget(&path, info.max_budget, info.budget_duration.as_deref())? else {
            continue;
        };
        if !deployments.iter().any(|d| d.model_name == e.model_name) {
            continue;
        }
        out.entry(e.model_name.clone())
            .and_modify(|old| {
                if b.max_micros < old.max_micros {
                    *old = b;
                }
            })
            .or_insert(b);
    }
    Ok(out)
}

/// `switchyard_settings.pricing_file`, else the embedded table.
pub(super) fn pricing(file: Option<&str>) -> Result<Arc<PriceTable>, Failure> {
    let path = "switchyard_settings.pricing_file";
    let table = match file {
        None => PriceTable::embedded().map_err(|m| (path.to_owned(), m))?,
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| (path.to_owned(), format!("cannot read `{file}`: {e}")))?;
            PriceTable::parse(&text).map_err(|m| (path.to_owned(), format!("`{file}`: {m}")))?
        }
    };
    Ok(Arc::new(table))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_litellm_writes_them() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_duration("1mo"), Ok(Duration::from_secs(30 * 86_400)));
        for bad in ["", "0s", "1", "d", "1y", "-1d", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn budgets_in_micro_dollars() {
        let b = budget("k", Some(2.5), Some("1d")).unwrap().unwrap();
        assert_eq!(b.max_micros, 2_500_000);
        assert_eq!(b.duration, Some(Duration::from_secs(86_400)));
        assert_eq!(budget("k", None, None), Ok(None));
        assert!(budget("k", None, Some("1d")).is_err());
        assert!(budget("k", Some(-1.0), None).is_err());
    }
}
