//! The order in which model groups are tried: the requested group, then its `fallbacks`; a
//! context-window or content-policy error switches to that list instead.

use std::collections::HashMap;

use crate::{config::RouterSettings, retry::FallbackKind};

/// The groups still to try for one request.
#[derive(Debug)]
pub(super) struct FallbackChain<'a> {
    origin: &'a str,
    settings: &'a RouterSettings,
    queue: std::collections::VecDeque<&'a str>,
    tried: Vec<&'a str>,
}

impl<'a> FallbackChain<'a> {
    /// Starts with `origin` itself.
    pub(super) fn new(settings: &'a RouterSettings, origin: &'a str) -> Self {
        Self {
            origin,
            settings,
            queue: [origin].into(),
            tried: Vec::new(),
        }
    }

    /// The next group to try, never one tried before.
    pub(super) fn next_group(&mut self) -> Option<&'a str> {
        while let Some(g) = self.queue.pop_front() {
            if !self.tried.contains(&g) {
                self.tried.push(g);
                return Some(g);
            }
        }
        None
    }

    /// After a failure of kind `kind`: what comes next. `General` keeps the `fallbacks` list
    /// (queued on the first failure); the special kinds replace what is left with their list.
    pub(super) fn on_failure(&mut self, kind: FallbackKind) {
        let list = |map: &'a HashMap<String, Vec<String>>| {
            map.get(self.origin).map(|v| v.iter().map(String::as_str))
        };
        match kind {
            FallbackKind::General => {
                if self.tried.len() == 1 {
                    if let Some(list) = list(&self.settings.fallbacks) {
                        self.queue.extend(list);
                    }
                }
            }
            FallbackKind::ContextWindow | FallbackKind::ContentPolicy => {
                let map = match kind {
                    FallbackKind::ContextWindow => &self.settings.context_window_fallbacks,
                    FallbackKind::ContentPolicy | FallbackKind::General => {
                        &self.settings.content_policy_fallbacks
                    }
                };
                self.queue.clear();
                if let Some(list) = list(map) {
                    self.queue.extend(list);
                }
            }
        }
    }
}
