//! The router's small decisions: which deployments are ready and how long to wait for the
//! others, and which failure the caller is told about.

use std::{sync::Arc, time::Duration};

use tokio::time::Instant;

use crate::proxy::{Availability, Deployment, ModelGroup};
use crate::{error::GatewayError, proxy::ProxyRequest};

/// Why no deployment is ready, and until when.
#[derive(Debug, Clone, Copy)]
pub(super) enum Wait {
    Busy(Instant),
    Cooling(Instant),
    AtLimit(Instant),
}

/// The ready deployments, and the waits of the others.
pub(super) fn partition<'a>(
    serving: &[&'a Arc<Deployment>],
    now: Instant,
) -> (Vec<&'a Arc<Deployment>>, Vec<Wait>) {
    let mut ready = Vec::with_capacity(serving.len());
    let mut waits = Vec::new();
    for d in serving {
        match d.state.availability(now) {
            Availability::Ready => ready.push(*d),
            Availability::Busy(t) => waits.push(Wait::Busy(t)),
            Availability::Cooling(t) => waits.push(Wait::Cooling(t)),
            Availability::AtLimit(t) => waits.push(Wait::AtLimit(t)),
        }
    }
    (ready, waits)
}

/// The wait that ends first, preferring a `Retry-After` (which the same request may sit out),
/// then a cooldown, then a limit.
pub(super) fn next_wait(waits: &[Wait]) -> Option<Wait> {
    waits.iter().copied().min_by_key(|w| match *w {
        Wait::Busy(t) => (0, t),
        Wait::Cooling(t) => (1, t),
        Wait::AtLimit(t) => (2, t),
    })
}

pub(super) fn no_healthy(group: &ModelGroup, retry_after: Option<Duration>) -> GatewayError {
    GatewayError::NoHealthyDeployment {
        model: group.name.to_string(),
        retry_after,
    }
}

/// Whether `error` is a 404 for an endpoint other than the one `deployment` is configured for
/// (e.g. embeddings on a chat model).
pub(super) fn is_unserved_endpoint(
    error: &GatewayError,
    deployment: &Deployment,
    request: &ProxyRequest,
) -> bool {
    use crate::{config::ModelMode, model::Endpoint};
    // The endpoint the deployment's `model_info.mode` names (chat when it names none): a 404
    // there means a wrong model or key; elsewhere only that the upstream lacks that endpoint.
    let primary = match deployment.config.mode {
        ModelMode::Any | ModelMode::Chat => Endpoint::Chat,
        ModelMode::Completion => Endpoint::Completions,
        ModelMode::Embedding => Endpoint::Embeddings,
        ModelMode::ImageGeneration => Endpoint::Images,
        ModelMode::AudioSpeech => Endpoint::Speech,
        ModelMode::AudioTranscription => Endpoint::Transcriptions,
        ModelMode::Moderation => Endpoint::Moderations,
        ModelMode::Rerank => Endpoint::Rerank,
    };
    matches!(error, GatewayError::Upstream(e) if e.status.as_u16() == 404)
        && request.endpoint != primary
}

/// `new`, unless it carries no valid HTTP answer (a reset, a garbled answer) and `previous` is
/// an upstream's answer: then that answer (its status and message reach the caller).
pub(super) fn keep_answer(previous: Option<GatewayError>, new: GatewayError) -> GatewayError {
    match previous {
        Some(answer @ GatewayError::Upstream(_)) if lacks_answer(&new) => answer,
        _ => new,
    }
}

fn lacks_answer(e: &GatewayError) -> bool {
    matches!(
        e,
        GatewayError::UpstreamUnreachable { .. } | GatewayError::UpstreamGarbled { .. }
    )
}
