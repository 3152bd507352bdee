//! Spend and budgets (SPEC §14): what each answer cost, who spent it, and whether a key or a
//! model group may spend more. Prices come from `pricing`, counters from a
//! [`SpendStore`](crate::state::spend::SpendStore) (in process, or Redis for a fleet).
//!
//! Budgets are checked before a request is sent and charged once its usage is known, so a key
//! is over-admitted by at most the requests already in flight when its budget ran out.

use std::{collections::HashMap, sync::Arc};

use futures_util::future::BoxFuture;
use prometheus::CounterVec;
use sha2::{Digest, Sha256};

use crate::{
    config::{Budget, Config},
    error::{BudgetScope, GatewayError},
    openai::Usage,
    pricing::{Overrides, Price, warn_unpriced},
    proxy::Identity,
    state::spend::{Charge, Counter, SpendStore, Spent, StoreError},
};

/// The cost of an answer in USD (JSON answers), and LiteLLM's name for it.
pub const COST_HEADERS: [&str; 2] = ["x-switchyard-response-cost", "x-litellm-response-cost"];

/// Who pays for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payer {
    /// No keys are configured.
    Anonymous,
    /// The master key.
    Master,
    /// Virtual key number `n` of `switchyard_settings.keys`.
    Virtual(usize),
}

/// Prices, accounts and the store of one configuration.
pub struct Spend {
    store: Arc<dyn SpendStore>,
    prices: HashMap<Arc<str>, Price>,
    keys: Vec<Account>,
    groups: HashMap<Arc<str>, Account>,
    metric: CounterVec,
}

/// A key or a model group: its secret-free name, counter and budget.
#[derive(Debug, Clone)]
pub struct Account {
    /// The alias (keys: `key_alias`, else `key-<n>`; groups: the group name).
    pub label: Arc<str>,
    /// Keys: the SHA-256 of the key, hex (LiteLLM's `token`); groups: empty.
    pub token: Arc<str>,
    /// Its budget.
    pub budget: Option<Budget>,
    /// Its spend counter.
    pub counter: Counter,
}

// === impl Payer ===

impl From<&Identity> for Payer {
    fn from(identity: &Identity) -> Self {
        match identity {
            Identity::Anonymous => Self::Anonymous,
            Identity::Master => Self::Master,
            Identity::Virtual(n) => Self::Virtual(*n),
        }
    }
}

// === impl Spend ===

impl Spend {
    /// Prices every deployment of `config` (warning once per model that has none, the mock
    /// excepted) and opens an
    /// account for every virtual key and budgeted model group.
    pub fn new(config: &Config, store: Arc<dyn SpendStore>, metric: CounterVec) -> Self {
        let mut prices = HashMap::new();
        for d in &config.deployments {
            let model = d.base_model.as_deref().unwrap_or(&d.upstream_model);
            let provider = d.provider.label();
            let overrides = Overrides {
                input: d.input_cost_per_token,
                output: d.output_cost_per_token,
            };
            match config.pricing.price(provider, model, overrides) {
                Some(p) => {
                    prices.insert(Arc::from(d.id.as_str()), p);
                }
                // The built-in mock costs nothing by design: no warning for it.
                None if d.provider == crate::model::ProviderKind::Mock => {}
                None => warn_unpriced(&d.id, provider, model),
            }
        }
        let keys = config
            .keys
            .iter()
            .enumerate()
            .map(|(n, k)| {
                let token: Arc<str> = token(k.key.expose()).into();
                Account {
                    label: k.alias.clone().unwrap_or_else(|| format!("key-{n}")).into(),
                    counter: Counter {
                        name: format!("key:{token}").into(),
                        period: k.budget.and_then(|b| b.duration),
                    },
                    token,
                    budget: k.budget,
                }
            })
            .collect();
        let groups = config
            .group_budgets
            .iter()
            .map(|(name, b)| {
                let account = Account {
                    label: name.as_str().into(),
                    token: "".into(),
                    budget: Some(*b),
                    counter: Counter {
                        name: format!("group:{name}").into(),
                        period: b.duration,
                    },
                };
                (Arc::from(name.as_str()), account)
            })
            .collect();
        Self {
            store,
            prices,
            keys,
            groups,
            metric,
        }
    }

    /// The secret-free label of a payer (the `key` metric label).
    pub fn label(&self, payer: Payer) -> &str {
        match payer {
            Payer::Anonymous => "anonymous",
            Payer::Master => "master",
            Payer::Virtual(n) => self.keys.get(n).map_or("unknown", |a| &a.label),
        }
    }

    /// The virtual keys' accounts, in config order.
    pub fn keys(&self) -> &[Account] {
        &self.keys
    }

    /// The cost of `usage` on `deployment`, in micro-dollars (0 for an unpriced model).
    pub fn cost(&self, deployment: &str, usage: &Usage) -> u64 {
        self.prices
            .get(deployment)
            .map_or(0, |p| p.cost_micros(usage))
    }

    /// Refuses a payer whose budget is spent. A store that cannot be read admits (and says so
    /// in the log): losing shared state never fails requests (SPEC §10).
    pub async fn admit(&self, payer: Payer) -> Result<(), GatewayError> {
        let Payer::Virtual(n) = payer else {
            return Ok(());
        };
        match self.keys.get(n) {
            Some(account) => self.check(account, BudgetScope::Key).await,
            None => Ok(()),
        }
    }

    /// Refuses a model group whose budget is spent (the router then falls back).
    pub async fn admit_group(&self, group: &str) -> Result<(), GatewayError> {
        match self.groups.get(group) {
            Some(account) => self.check(account, BudgetScope::Model).await,
            None => Ok(()),
        }
    }

    /// Whether any model group has a budget (the router skips the check otherwise).
    pub fn has_group_budgets(&self) -> bool {
        !self.groups.is_empty()
    }

    async fn check(&self, account: &Account, scope: BudgetScope) -> Result<(), GatewayError> {
        let Some(budget) = account.budget else {
            return Ok(());
        };
        let spent = match self.store.read(account.counter.clone()).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(account = %account.label, error = %e, "budget not checked");
                return Ok(());
            }
        };
        if spent.micros < budget.max_micros {
            return Ok(());
        }
        Err(GatewayError::BudgetExceeded {
            scope,
            name: account.label.to_string(),
            spent_micros: spent.micros,
            max_micros: budget.max_micros,
            resets_in: spent.resets_in,
        })
    }

    /// Counts `micros` spent by `payer` on `deployment` of `group`: the metric now, the
    /// counters through the store (once, whatever retries the store makes).
    pub fn record(
        &self,
        payer: Payer,
        group: &str,
        deployment: &str,
        micros: u64,
    ) -> BoxFuture<'static, Result<(), StoreError>> {
        if micros == 0 {
            return Box::pin(std::future::ready(Ok(())));
        }
        self.metric
            .with_label_values(&[group, deployment, self.label(payer)])
            .inc_by(micros as f64 / 1e6);
        let mut counters = Vec::with_capacity(2);
        if let Payer::Virtual(n) = payer {
            if let Some(a) = self.keys.get(n) {
                counters.push(a.counter.clone());
            }
        }
        if let Some(a) = self.groups.get(group) {
            counters.push(a.counter.clone());
        }
        if counters.is_empty() {
            return Box::pin(std::future::ready(Ok(())));
        }
        self.store.charge(Charge {
            id: rand::random(),
            micros,
            counters,
        })
    }

    /// What an account has spent in its current period.
    pub async fn spent(&self, account: &Account) -> Result<Spent, StoreError> {
        self.store.read(account.counter.clone()).await
    }
}

impl std::fmt::Debug for Spend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spend")
            .field("priced_deployments", &self.prices.len())
            .field("keys", &self.keys.len())
            .field("groups", &self.groups.len())
            .finish()
    }
}

/// The micro-dollars of a `x-switchyard-response-cost` header the metrics layer set (an exact
/// six-place decimal), 0 without one.
pub fn cost_from_headers(headers: &http::HeaderMap) -> u64 {
    let Some(text) = headers.get(COST_HEADERS[0]).and_then(|v| v.to_str().ok()) else {
        return 0;
    };
    let (whole, frac) = text.split_once('.').unwrap_or((text, "0"));
    let frac = format!("{frac:0<6}");
    match (whole.parse::<u64>(), frac.get(..6).map(str::parse::<u64>)) {
        (Ok(w), Some(Ok(f))) => w.saturating_mul(1_000_000).saturating_add(f),
        _ => 0,
    }
}

/// LiteLLM's `token`: the SHA-256 of the key, hex. Shown instead of the key, never reversible.
pub fn token(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests;
