//! The model table: public model name -> group.

use std::{collections::HashMap, sync::Arc};

use super::ModelGroup;
use crate::wildcard;

/// Public model name -> group, plus the names in config order. Names with `*` are wildcard
/// patterns (`wildcard.rs`), tried most specific first when no name matches exactly.
pub struct ModelTable {
    groups: HashMap<Arc<str>, Arc<ModelGroup>>,
    names: Vec<Arc<str>>,
    patterns: Vec<Arc<ModelGroup>>,
}

// === impl ModelTable ===

impl ModelTable {
    /// A table of `groups`, in this order.
    pub fn new(groups: Vec<Arc<ModelGroup>>) -> Self {
        let names = groups.iter().map(|g| g.name.clone()).collect();
        let groups = groups.into_iter().map(|g| (g.name.clone(), g)).collect();
        Self::from_parts(groups, names)
    }

    pub(crate) fn from_parts(
        groups: HashMap<Arc<str>, Arc<ModelGroup>>,
        names: Vec<Arc<str>>,
    ) -> Self {
        let mut patterns: Vec<Arc<ModelGroup>> = names
            .iter()
            .filter(|n| wildcard::is_pattern(n))
            .filter_map(|n| groups.get(n).cloned())
            .collect();
        // Stable: equally specific patterns keep config order, as in LiteLLM.
        patterns.sort_by_key(|g| std::cmp::Reverse(wildcard::specificity(&g.name)));
        Self {
            groups,
            names,
            patterns,
        }
    }

    /// The group serving a requested model name: the group of that name, else the most specific
    /// wildcard pattern matching it (the request then keeps its name; `wildcard::upstream_model`).
    pub fn get(&self, name: &str) -> Option<&Arc<ModelGroup>> {
        self.groups.get(name).or_else(|| {
            self.patterns
                .iter()
                .find(|g| wildcard::captures(&g.name, name).is_some())
        })
    }

    /// Public names in config order.
    pub fn names(&self) -> &[Arc<str>] {
        &self.names
    }

    /// Groups in config order.
    pub fn groups(&self) -> impl Iterator<Item = &Arc<ModelGroup>> {
        self.names.iter().filter_map(|n| self.groups.get(n))
    }
}
