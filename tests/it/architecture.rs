//! The top-level modules of `src/` are layered: a module imports (`crate::x`) only modules in
//! lower layers, so there are no import cycles. The graph is read from the source text (test code
//! included, comments not), the same way `docs/architecture.md` describes it; the layer list
//! below is printed there too, and this test checks that the two agree.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

/// The layers, bottom first. A module may import only modules of lower layers.
const LAYERS: &[&[&str]] = &[
    &["model", "process", "secret", "wildcard"],
    &["error"],
    &["openai", "retry", "upstream"],
    &["pricing", "sse"],
    &["config", "metrics"],
    &["proxy"],
    &["state"],
    &["providers", "spend"],
    &["messages", "responses", "router"],
    &["attempt", "fuzz", "middleware"],
    &["agent", "stack"],
    &["runtime"],
    &["api", "cli"],
    &["server", "testing"],
];

/// Files under `src/` that are not part of a top-level module's graph: the crate roots, and
/// `bin/` (other crates, where `crate::` means themselves).
const SKIPPED: &[&str] = &["lib", "main", "bin"];

/// One edge: `from` names `crate::to` in `file`.
type Edges = BTreeMap<String, BTreeMap<String, PathBuf>>;

#[test]
fn top_level_modules_import_only_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let edges = module_graph(&src);
    let layer_of: BTreeMap<&str, usize> = LAYERS
        .iter()
        .enumerate()
        .flat_map(|(n, layer)| layer.iter().map(move |m| (*m, n)))
        .collect();

    let mut problems = Vec::new();
    let mut modules: BTreeSet<&str> = edges.keys().map(String::as_str).collect();
    modules.extend(edges.values().flat_map(|to| to.keys().map(String::as_str)));
    for m in &modules {
        if !layer_of.contains_key(m) {
            problems.push(format!(
                "module `{m}` is in no layer: add it to LAYERS (and docs/architecture.md)"
            ));
        }
    }
    for listed in layer_of.keys() {
        if !modules.contains(listed) {
            problems.push(format!(
                "LAYERS names `{listed}`, which is not a module of src/"
            ));
        }
    }
    if let Some(cycle) = find_cycle(&edges) {
        problems.push(format!("import cycle: {}", cycle.join(" -> ")));
    }
    for (from, to) in &edges {
        for (target, file) in to {
            let (Some(a), Some(b)) = (layer_of.get(from.as_str()), layer_of.get(target.as_str()))
            else {
                continue;
            };
            if b >= a {
                problems.push(format!(
                    "`{from}` (layer {}) imports `{target}` (layer {}) in {}: a module may import \
                     only lower layers",
                    a + 1,
                    b + 1,
                    file.display()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_layer_list_in_the_docs_is_this_one() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/architecture.md");
    let docs = fs::read_to_string(docs).unwrap();
    let expected: String = LAYERS
        .iter()
        .enumerate()
        .map(|(n, layer)| format!("{:>2}  {}\n", n + 1, layer.join(" ")))
        .collect();
    assert!(
        docs.contains(&expected),
        "docs/architecture.md must list the layers exactly as tests/it/architecture.rs does:\n{expected}"
    );
}

#[test]
fn the_reader_sees_grouped_and_inline_paths() {
    let text = "use crate::{a::x, b, self, c::{d, e}};\n// crate::hidden\nfn f() { crate::g::h(); $crate::i::j }\nlet s = \"http://x\"; crate::k::l";
    let found: Vec<String> = targets(text).into_iter().collect();
    assert_eq!(found, ["a", "b", "c", "g", "i", "k"]);
}

/// Top-level module -> the modules it names, each with one file that names it.
fn module_graph(src: &Path) -> Edges {
    let mut edges = Edges::new();
    for file in rust_files(src) {
        let rel = file.strip_prefix(src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let top = first.trim_end_matches(".rs").to_owned();
        if SKIPPED.contains(&top.as_str()) {
            continue;
        }
        let text = fs::read_to_string(&file).unwrap();
        let entry = edges.entry(top.clone()).or_default();
        for target in targets(&text) {
            if target != top {
                entry
                    .entry(target)
                    .or_insert_with(|| Path::new("src").join(rel));
            }
        }
    }
    edges
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The first segments of every `crate::` path in `text` (line comments left out): `crate::a::x`
/// gives `a`; `crate::{a::x, b, c::{d}}` gives `a`, `b`, `c`.
fn targets(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = strip_comment(line);
        out.extend(line_targets(code, text, line));
    }
    out
}

/// `line` without a `//` comment (a `//` right after `:` is a URL in a string, not a comment).
fn strip_comment(line: &str) -> &str {
    let mut from = 0;
    while let Some(i) = line[from..].find("//") {
        let at = from + i;
        if at > 0 && line.as_bytes()[at - 1] == b':' {
            from = at + 2;
            continue;
        }
        return &line[..at];
    }
    line
}

/// Targets of the `crate::` paths starting on `code` (a line of `text`); a group may span lines.
fn line_targets(code: &str, text: &str, line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = code[from..].find("crate::") {
        let at = from + i;
        from = at + "crate::".len();
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[from..];
        if rest.starts_with('{') {
            // The group may continue on later lines: read it from the whole text.
            let offset = line.as_ptr() as usize - text.as_ptr() as usize + from;
            let group = balanced(&text[offset..]);
            out.extend(group_heads(group));
        } else {
            let ident: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !ident.is_empty() {
                out.push(ident);
            }
        }
    }
    out
}

/// The text inside the `{...}` that `s` starts with (comments inside are dropped).
fn balanced(s: &str) -> String {
    let mut depth = 0;
    let mut inner = String::new();
    for line in s.split_inclusive('\n') {
        for c in strip_comment(line).chars() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                return inner[1..].to_owned();
            }
            inner.push(c);
        }
    }
    inner
}

/// The first segment of each top-level entry of a `use` group.
fn group_heads(group: String) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut entry = String::new();
    for c in group.chars().chain([',']) {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                let head = entry
                    .trim()
                    .split("::")
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_owned();
                if !head.is_empty() && head != "self" {
                    heads.push(head);
                }
                entry.clear();
                continue;
            }
            _ => {}
        }
        entry.push(c);
    }
    heads
}

/// A cycle in the graph, if there is one (depth-first search).
fn find_cycle(edges: &Edges) -> Option<Vec<String>> {
    fn visit(
        m: &str,
        edges: &Edges,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|p| p == m) {
            let mut cycle = path[start..].to_vec();
            cycle.push(m.to_owned());
            return Some(cycle);
        }
        if done.contains(m) {
            return None;
        }
        path.push(m.to_owned());
        for next in edges.get(m).into_iter().flat_map(|to| to.keys()) {
            if let Some(cycle) = visit(next, edges, done, path) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(m.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|m| visit(m, edges, &mut done, &mut Vec::new()))
}
