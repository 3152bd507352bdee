//! Wildcard model names, as LiteLLM's pattern router has them: a `model_name` with `*`
//! (`"*"`, `"anthropic/*"`) is a pattern; each `*` matches any text (greedy, like the regex
//! `(.*)` LiteLLM builds). The most specific pattern wins (LiteLLM sorts by the length of the
//! pattern's regex, then by its count of special characters), explicit names before any pattern.
//! A deployment whose `litellm_params.model` has `*` sends the requested name: each `*` is filled
//! with what the pattern's `*`s matched.

use std::borrow::Cow;

/// Whether `name` is a pattern.
pub fn is_pattern(name: &str) -> bool {
    name.contains('*')
}

/// What each `*` of `pattern` matched in `name`, or `None` when it does not match.
pub fn captures<'n>(pattern: &str, name: &'n str) -> Option<Vec<&'n str>> {
    let mut out = Vec::new();
    matches(pattern.as_bytes(), name, 0, &mut out).then_some(out)
}

fn matches<'n>(pattern: &[u8], name: &'n str, at: usize, out: &mut Vec<&'n str>) -> bool {
    let Some((&first, rest)) = pattern.split_first() else {
        return at == name.len();
    };
    if first == b'*' {
        // Greedy: the longest text first, as a regex `(.*)` does.
        for end in (at..=name.len()).rev() {
            if !name.is_char_boundary(end) {
                continue;
            }
            out.push(&name[at..end]);
            if matches(rest, name, end, out) {
                return true;
            }
            out.pop();
        }
        false
    } else {
        name.as_bytes().get(at) == Some(&first) && matches(rest, name, at + 1, out)
    }
}

/// LiteLLM's sort key for a pattern (`PatternUtils.calculate_pattern_specificity` on the regex
/// it builds): the regex's length, then its count of regex special characters. Higher wins.
pub fn specificity(pattern: &str) -> (usize, usize) {
    // Python's `re.escape` escapes these; each `*` becomes `(.*)`; `^` and `$` anchor it.
    const ESCAPED: &[u8] = b"()[]{}?+-|^$\\.&~# \t\n\r\x0b\x0c";
    let mut len = 2;
    let mut special = 2;
    for b in pattern.bytes() {
        if b == b'*' {
            len += 4;
            special += 3; // `(`, `*`, `)`
        } else if ESCAPED.contains(&b) {
            len += 2;
            special += 1 + usize::from(b"()?+|^$\\".contains(&b));
        } else {
            len += 1;
        }
    }
    (len, special)
}

/// The upstream model for a request: `template` (a deployment's model) with each `*` replaced by
/// what `group`'s pattern matched in `requested`, in order. Unchanged when `template` has no `*`
/// or `group` is not a pattern matching `requested`; the requested name itself when the pattern
/// has more `*`s than the template (LiteLLM's `set_deployment_model_name`).
pub fn upstream_model<'a>(template: &'a str, group: &str, requested: &'a str) -> Cow<'a, str> {
    if !is_pattern(template) {
        return Cow::Borrowed(template);
    }
    let Some(segments) = captures(group, requested) else {
        return Cow::Borrowed(template);
    };
    if segments.len() > template.matches('*').count() {
        return Cow::Borrowed(requested);
    }
    let mut out = template.to_owned();
    for segment in segments {
        out = out.replacen('*', segment, 1);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_greedily_and_fill_templates() {
        assert_eq!(captures("*", "gpt-4o"), Some(vec!["gpt-4o"]));
        assert_eq!(
            captures("anthropic/*", "anthropic/claude-x"),
            Some(vec!["claude-x"])
        );
        assert_eq!(captures("anthropic/*", "openai/gpt-4o"), None);
        assert_eq!(captures("a*b*", "axbyb"), Some(vec!["xby", ""]));
        assert_eq!(captures("exact", "exact"), Some(vec![]));
        assert_eq!(upstream_model("*", "anthropic/*", "anthropic/c"), "c");
        assert_eq!(upstream_model("*", "*", "openai/gpt-4o"), "openai/gpt-4o");
        assert_eq!(upstream_model("fixed", "*", "x"), "fixed");
        // More `*`s in the pattern than in the template: the requested name as is.
        assert_eq!(
            upstream_model("meta.llama3*", "*meta.llama3*", "hello-meta.llama3-70b"),
            "hello-meta.llama3-70b"
        );
    }

    #[test]
    fn longer_patterns_are_more_specific() {
        assert!(specificity("anthropic/*") > specificity("*"));
        assert!(specificity("anthropic/claude-*") > specificity("anthropic/*"));
    }
}
