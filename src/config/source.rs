//! Phase zero: the YAML tree as LiteLLM's proxy prepares it before reading any setting.
//! `include:` files are merged in, `os.environ/NAME` is resolved in every mapping value (LiteLLM's
//! `_check_for_os_environ_vars`), and `credential_list` entries fill the `litellm_params` of the
//! deployments that name them with `litellm_credential_name`.

use std::path::{Path, PathBuf};

use serde_norway::{Mapping, Value};

use super::{Warning, env::Env};

/// How deep `include:` may nest (a file included by an included file is depth 2).
const MAX_INCLUDE_DEPTH: usize = 8;

/// LiteLLM's prefix for environment references.
const ENV_PREFIX: &str = "os.environ/";

/// The prepared tree.
pub(super) struct Source {
    /// The merged, resolved document.
    pub(super) root: Value,
    /// `os.environ/NAME` references whose variable is unset: (key path, NAME). They stay in the
    /// tree as written; a setting that is used fails naming the variable.
    pub(super) missing_env: Vec<(String, String)>,
}

/// A failure: (key path, message).
type Failure = (String, String);

/// Parses `text` (read from `file`, if it is a file) and prepares the tree.
pub(super) fn prepare(
    text: &str,
    file: Option<&Path>,
    env: &dyn Env,
    warnings: &mut Vec<Warning>,
) -> Result<Source, Failure> {
    let mut root = parse_yaml(text, "(top level)")?;
    let mut stack: Vec<PathBuf> = file.map(canonical).into_iter().collect();
    let dir = file.and_then(Path::parent).map(Path::to_path_buf);
    include(&mut root, dir.as_deref(), &mut stack, warnings)?;
    let mut missing_env = Vec::new();
    resolve_env(&mut root, String::new(), env, &mut missing_env);
    credentials(&mut root)?;
    Ok(Source { root, missing_env })
}

fn parse_yaml(text: &str, path: &str) -> Result<Value, Failure> {
    let value: Value =
        serde_norway::from_str(text).map_err(|e| (path.to_owned(), e.to_string()))?;
    match value {
        Value::Mapping(_) => Ok(value),
        Value::Null => Ok(Value::Mapping(Mapping::new())),
        _ => Err((
            path.to_owned(),
            "expected a YAML mapping with `model_list`".into(),
        )),
    }
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// Merges the files named by `include:` into `root`, as LiteLLM does: a list extends the list
/// of the including file, any other value replaces it. Included files may include others
/// (relative to themselves), up to `MAX_INCLUDE_DEPTH`, never in a cycle.
fn include(
    root: &mut Value,
    dir: Option<&Path>,
    stack: &mut Vec<PathBuf>,
    warnings: &mut Vec<Warning>,
) -> Result<(), Failure> {
    let Some(map) = root.as_mapping_mut() else {
        return Ok(());
    };
    let Some(list) = map.remove("include") else {
        return Ok(());
    };
    let names: Vec<String> = match list {
        Value::String(s) => vec![s],
        Value::Sequence(items) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(("include".to_owned(), "expected a file path".to_owned())),
            })
            .collect::<Result<_, _>>()?,
        Value::Null => Vec::new(),
        _ => {
            return Err((
                "include".into(),
                "expected a file path or a list of file paths".into(),
            ));
        }
    };
    for name in names {
        let here = stack.last().map(|p| p.display().to_string());
        let at = |msg: String| {
            let from = here.as_deref().unwrap_or("the config");
            (format!("include ({name}, from {from})"), msg)
        };
        let Some(dir) = dir else {
            return Err(at(
                "`include:` needs a config file to resolve paths against".into(),
            ));
        };
        let path = dir.join(&name);
        if stack.len() >= MAX_INCLUDE_DEPTH {
            return Err(at(format!(
                "includes nest deeper than {MAX_INCLUDE_DEPTH} files"
            )));
        }
        let key = canonical(&path);
        if stack.contains(&key) {
            return Err(at(format!(
                "`{}` includes itself (through {})",
                path.display(),
                stack
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" -> ")
            )));
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| at(format!("cannot read `{}`: {e}", path.display())))?;
        let mut included = parse_yaml(&text, &format!("include ({name})"))?;
        stack.push(key);
        include(&mut included, path.parent(), stack, warnings)?;
        stack.pop();
        let Value::Mapping(included) = included else {
            continue;
        };
        for (k, v) in included {
            match (map.get_mut(&k), v) {
                (Some(Value::Sequence(mine)), Value::Sequence(theirs)) => mine.extend(theirs),
                (existing, v) => {
                    if existing.is_some() {
                        warnings.push(Warning(format!(
                            "`{}` from included `{name}` replaces the including file's value (as LiteLLM does)",
                            k.as_str().unwrap_or("?")
                        )));
                    }
                    map.insert(k, v);
                }
            }
        }
    }
    Ok(())
}

/// Resolves `os.environ/NAME` in every mapping value, in mappings nested in mappings and lists
/// (strings directly inside a list are left alone, as LiteLLM leaves them).
fn resolve_env(
    value: &mut Value,
    path: String,
    env: &dyn Env,
    missing: &mut Vec<(String, String)>,
) {
    match value {
        Value::Mapping(map) => {
            for (k, v) in map.iter_mut() {
                let key = k.as_str().map_or_else(|| format!("{k:?}"), str::to_owned);
                let child = if path.is_empty() {
                    key
                } else {
                    format!("{path}.{key}")
                };
                if let Value::String(s) = v {
                    if let Some(name) = s.strip_prefix(ENV_PREFIX) {
                        match env.var(name) {
                            Some(resolved) => *s = resolved,
                            None => missing.push((child, name.to_owned())),
                        }
                    }
                } else {
                    resolve_env(v, child, env, missing);
                }
            }
        }
        Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                if !matches!(item, Value::String(_)) {
                    resolve_env(item, format!("{path}[{i}]"), env, missing);
                }
            }
        }
        Value::Tagged(tagged) => resolve_env(&mut tagged.value, path, env, missing),
        _ => {}
    }
}

/// Fills each deployment's `litellm_params` from the `credential_list` entry it names with
/// `litellm_credential_name`; keys the deployment sets itself win (LiteLLM's order).
fn credentials(root: &mut Value) -> Result<(), Failure> {
    let Some(map) = root.as_mapping_mut() else {
        return Ok(());
    };
    let list = match map.remove("credential_list") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Sequence(list)) => list,
        Some(_) => return Err(("credential_list".into(), "expected a list".into())),
    };
    let mut named: Vec<(String, Mapping)> = Vec::new();
    for (i, entry) in list.into_iter().enumerate() {
        let path = format!("credential_list[{i}]");
        let name = entry
            .get("credential_name")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                (
                    format!("{path}.credential_name"),
                    "expected a name".to_owned(),
                )
            })?
            .to_owned();
        let values = match entry.get("credential_values") {
            Some(Value::Mapping(m)) => m.clone(),
            None | Some(Value::Null) => Mapping::new(),
            Some(_) => {
                return Err((
                    format!("{path}.credential_values"),
                    "expected a mapping of litellm_params".into(),
                ));
            }
        };
        named.push((name, values));
    }
    let Some(Value::Sequence(models)) = map.get_mut("model_list") else {
        return Ok(());
    };
    for (i, model) in models.iter_mut().enumerate() {
        let Some(params) = model
            .get_mut("litellm_params")
            .and_then(Value::as_mapping_mut)
        else {
            continue;
        };
        let Some(Value::String(name)) = params.remove("litellm_credential_name") else {
            continue;
        };
        let Some((_, values)) = named.iter().find(|(n, _)| *n == name) else {
            return Err((
                format!("model_list[{i}].litellm_params.litellm_credential_name"),
                format!("no `credential_list` entry is named `{name}`"),
            ));
        };
        for (k, v) in values {
            if !params.contains_key(k) {
                params.insert(k.clone(), v.clone());
            }
        }
    }
    Ok(())
}
