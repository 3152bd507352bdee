//! `os.environ/NAME` resolution behind one trait, so tests inject their own environment.

use std::collections::HashMap;

/// Where `os.environ/NAME` values come from.
pub trait Env: Send + Sync {
    /// The value of variable `name`, if set.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Env for HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

/// LiteLLM's prefix for environment references.
const PREFIX: &str = "os.environ/";

/// Resolves `value`: `os.environ/NAME` reads NAME (an error naming it when unset), anything
/// else is returned as is.
pub(crate) fn resolve(env: &dyn Env, value: &str) -> Result<String, String> {
    match value.strip_prefix(PREFIX) {
        Some(name) => env.var(name).ok_or_else(|| {
            format!("environment variable `{name}` is not set (referenced as `{value}`)")
        }),
        None => Ok(value.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_and_names_missing_variables() {
        let env: HashMap<String, String> = [("KEY".to_owned(), "v".to_owned())].into();
        assert_eq!(resolve(&env, "os.environ/KEY").unwrap(), "v");
        assert_eq!(resolve(&env, "plain").unwrap(), "plain");
        let err = resolve(&env, "os.environ/MISSING").unwrap_err();
        assert!(err.contains("`MISSING`"), "{err}");
    }
}
