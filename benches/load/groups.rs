//! What the cells are: request mode, target (mock or which gateway, which model) and the
//! flag-selectable groups of paired cells.

use crate::config::Kind;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    NonStream,
    Stream,
}

impl Mode {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Mode::NonStream => "non-stream",
            Mode::Stream => "stream",
        }
    }
}

/// Who a cell calls, and through which gateway.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// The mock itself.
    Direct,
    /// The plain gateway (no keys, no cache), `gpt-mock`.
    Gateway,
    /// The routing gateway, `gpt-mock` (one deployment).
    OneDeployment,
    /// The routing gateway, `gpt-mock-8` (eight deployments, simple-shuffle).
    EightDeployments,
    /// The cache gateway, `gpt-mock`, every answer a hit.
    CacheHit,
    /// The open gateway: `gpt-mock` with no keys and no cache.
    NoAuth,
    /// The auth gateway, `gpt-mock` with the virtual key (rpm/tpm limits checked and charged).
    AuthLimits,
    /// Virtual key limits + cache hits, in process.
    StateLocal,
    /// Virtual key limits + cache hits, in Redis.
    StateRedis,
}

impl Target {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Target::Direct => "direct",
            Target::Gateway => "gateway",
            Target::OneDeployment => "routing-1",
            Target::EightDeployments => "routing-8",
            Target::CacheHit => "cache-hit",
            Target::NoAuth => "no-auth",
            Target::AuthLimits => "auth-limits",
            Target::StateLocal => "in-process",
            Target::StateRedis => "redis",
        }
    }

    /// The gateway process it goes through (`None`: the mock directly).
    pub(crate) fn kind(self) -> Option<Kind> {
        match self {
            Target::Direct => None,
            Target::Gateway => Some(Kind::Plain),
            Target::OneDeployment | Target::EightDeployments => Some(Kind::Routing),
            Target::CacheHit => Some(Kind::Cache),
            Target::NoAuth => Some(Kind::Open),
            Target::AuthLimits => Some(Kind::Auth),
            Target::StateLocal => Some(Kind::StateLocal),
            Target::StateRedis => Some(Kind::StateRedis),
        }
    }

    pub(crate) fn model(self) -> &'static str {
        match self {
            Target::EightDeployments => "gpt-mock-8",
            _ => "gpt-mock",
        }
    }
}

/// A flag-selectable set of cells (`--groups`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Group {
    /// Direct vs. the plain gateway: c=1 non-stream and stream, c=64 and c=256; then memory.
    Base,
    /// One vs. eight deployments in the model group.
    Routing,
    /// Cache hits vs. the mock directly.
    Cache,
    /// A virtual key with rpm/tpm limits vs. no keys (both cache misses).
    Auth,
    /// Limits and cache in Redis on loopback vs. in process (both a limited key, cache hits).
    Redis,
}

impl Group {
    /// Run order.
    pub(crate) const ALL: [Group; 5] = [
        Group::Base,
        Group::Routing,
        Group::Cache,
        Group::Auth,
        Group::Redis,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Group::Base => "base",
            Group::Routing => "routing",
            Group::Cache => "cache",
            Group::Auth => "auth",
            Group::Redis => "redis",
        }
    }

    /// The two targets of each pair of cells, side by side.
    pub(crate) fn targets(self) -> [Target; 2] {
        match self {
            Group::Base => [Target::Direct, Target::Gateway],
            Group::Routing => [Target::OneDeployment, Target::EightDeployments],
            Group::Cache => [Target::Direct, Target::CacheHit],
            Group::Auth => [Target::NoAuth, Target::AuthLimits],
            Group::Redis => [Target::StateLocal, Target::StateRedis],
        }
    }

    pub(crate) fn plan(self) -> &'static [(Mode, usize)] {
        match self {
            Group::Base => &[
                (Mode::NonStream, 1),
                (Mode::Stream, 1),
                (Mode::NonStream, 64),
                (Mode::NonStream, 256),
            ],
            Group::Routing | Group::Cache | Group::Auth | Group::Redis => {
                &[(Mode::NonStream, 1), (Mode::NonStream, 64)]
            }
        }
    }

    /// The gateway the group is about: its CPU is sampled during the direct cells too.
    pub(crate) fn watched(self) -> Kind {
        match self {
            Group::Base => Kind::Plain,
            Group::Routing => Kind::Routing,
            Group::Cache => Kind::Cache,
            Group::Auth => Kind::Auth,
            Group::Redis => Kind::StateRedis,
        }
    }

    /// Every gateway process the group needs.
    pub(crate) fn kinds(self) -> Vec<Kind> {
        let mut kinds: Vec<Kind> = self.targets().iter().filter_map(|t| t.kind()).collect();
        kinds.push(self.watched());
        kinds.dedup();
        kinds
    }
}
