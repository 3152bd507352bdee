//! The router service: one request's whole journey across deployments and fallback groups.

use std::{sync::Arc, time::Duration};

use futures_util::future::BoxFuture;
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt};

use super::{
    Attempt, RouterCore,
    decide::{Wait, is_unserved_endpoint, keep_answer, next_wait, no_healthy, partition},
    fallback::FallbackChain,
    rescue::Plan,
};
use crate::{
    config::RouterSettings,
    error::{GatewayError, RateLimitScope, UpstreamError},
    metrics::RouterMetrics,
    model::Endpoint,
    proxy::{
        Availability, Deployment, ModelGroup, ModelTable, ProxyRequest, ProxyResponse, ReplyBody,
    },
    retry::{Backoff, Decision, FallbackKind, RetryReason, classify},
    spend::Spend,
    state::deployments::DeploymentEvents,
};

/// Wires [`Router`].
#[derive(Clone)]
pub struct RouterLayer {
    shared: Arc<Shared>,
}

struct Shared {
    settings: RouterSettings,
    core: Box<dyn RouterCore>,
    models: Arc<ModelTable>,
    metrics: RouterMetrics,
    backoff: Backoff,
    events: Arc<dyn DeploymentEvents>,
    /// Model-group budgets: a spent group is skipped like a cooled-down one.
    budgets: Option<Arc<Spend>>,
}

/// Routes one request: attempts, retries, cooldowns, fallbacks, deadline.
#[derive(Clone)]
pub struct Router<S> {
    inner: S,
    shared: Arc<Shared>,
}

/// How a group's turn ended without an answer.
struct GroupFailure {
    error: GatewayError,
    /// `None`: answer with `error` now; else try the fallbacks of this kind.
    next: Option<FallbackKind>,
}

// === impl RouterLayer ===

impl RouterLayer {
    /// The router for one configuration.
    pub fn new(
        settings: RouterSettings,
        core: Box<dyn RouterCore>,
        models: Arc<ModelTable>,
        metrics: RouterMetrics,
        events: Arc<dyn DeploymentEvents>,
    ) -> Self {
        let backoff = Backoff {
            base: Duration::from_millis(250),
            cap: Duration::from_secs(10),
            min: settings.retry_after,
        };
        Self {
            shared: Arc::new(Shared {
                settings,
                core,
                models,
                metrics,
                backoff,
                events,
                budgets: None,
            }),
        }
    }

    /// Skips model groups whose `model_info.max_budget` is spent (then their fallbacks serve).
    pub fn with_group_budgets(self, budgets: Option<Arc<Spend>>) -> Self {
        match Arc::try_unwrap(self.shared) {
            Ok(mut shared) => {
                shared.budgets = budgets;
                Self {
                    shared: Arc::new(shared),
                }
            }
            Err(shared) => Self { shared },
        }
    }
}

impl<S> Layer<S> for RouterLayer {
    type Service = Router<S>;
    fn layer(&self, inner: S) -> Router<S> {
        Router {
            inner,
            shared: self.shared.clone(),
        }
    }
}

impl<S> Service<ProxyRequest> for Router<S>
where
    S: Service<Attempt, Response = ProxyResponse, Error = GatewayError>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send,
{
    type Response = ProxyResponse;
    type Error = GatewayError;
    type Future = BoxFuture<'static, Result<ProxyResponse, GatewayError>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), GatewayError>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: ProxyRequest) -> Self::Future {
        let router = self.clone();
        Box::pin(async move { router.route(Arc::new(request)).await })
    }
}

// === impl Router ===

impl<S> Router<S>
where
    S: Service<Attempt, Response = ProxyResponse, Error = GatewayError>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send,
{
    async fn route(&self, request: Arc<ProxyRequest>) -> Result<ProxyResponse, GatewayError> {
        let settings = &self.shared.settings;
        let deadline = request.received + settings.deadline;
        let origin = request.group.name.clone();
        let mut chain = FallbackChain::new(settings, &origin);
        let mut attempts = 0u32;
        let mut last: Option<GatewayError> = None;
        let mut previous: Option<Arc<str>> = None;
        while let Some(name) = chain.next_group() {
            let Some(group) = self.shared.models.get(name) else {
                continue;
            };
            if let Some(from) = &previous {
                self.shared
                    .metrics
                    .fallbacks
                    .with_label_values(&[from, name])
                    .inc();
            }
            previous = Some(group.name.clone());
            if let Some(budgets) = &self.shared.budgets {
                if let Err(spent) = budgets.admit_group(&group.name).await {
                    chain.on_failure(FallbackKind::General);
                    if last.as_ref().is_none_or(|_| spent.deployment().is_some()) {
                        last = Some(spent);
                    }
                    continue;
                }
            }
            let result = self
                .run_group(&request, group, deadline, &mut attempts)
                .await;
            request.attempts.set(attempts);
            match result {
                Ok(mut response) => {
                    response.attempts = attempts;
                    return Ok(response);
                }
                Err(GroupFailure { error, next: None }) => return Err(error),
                Err(GroupFailure {
                    error,
                    next: Some(kind),
                }) => {
                    chain.on_failure(kind);
                    // Keep the last upstream answer: the caller gets its status and message.
                    last = Some(match last {
                        Some(previous) if error.deployment().is_none() => previous,
                        previous => keep_answer(previous, error),
                    });
                }
            }
        }
        Err(last.unwrap_or_else(|| GatewayError::NoHealthyDeployment {
            model: origin.to_string(),
            retry_after: None,
        }))
    }

    /// Where a stream of `group` served by `failed` may continue: the group's other deployments,
    /// then those of the requested group's fallbacks.
    fn rescue_candidates(
        &self,
        request: &ProxyRequest,
        group: &ModelGroup,
        failed: &Arc<Deployment>,
    ) -> Vec<Arc<Deployment>> {
        let fallbacks = self
            .shared
            .settings
            .fallbacks
            .get(&*request.group.name)
            .into_iter()
            .flatten();
        let groups = std::iter::once(group)
            .chain(fallbacks.filter_map(|name| self.shared.models.get(name).map(|g| &**g)));
        let mut out: Vec<Arc<Deployment>> = Vec::new();
        for d in groups.flat_map(|g| g.deployments.iter()) {
            if d.id != failed.id && !out.iter().any(|o| o.id == d.id) {
                out.push(d.clone());
            }
        }
        out
    }

    /// Attempts within one group until an answer, a decision to fall back, or a final error.
    /// A failure without a valid HTTP answer (a reset, a garbled answer) gives way to the last
    /// upstream answer of the group: the caller gets that status and message.
    async fn run_group(
        &self,
        request: &Arc<ProxyRequest>,
        group: &Arc<ModelGroup>,
        deadline: Instant,
        attempts: &mut u32,
    ) -> Result<ProxyResponse, GroupFailure> {
        let mut answer: Option<UpstreamError> = None;
        let result = self
            .attempt_group(request, group, deadline, attempts, &mut answer)
            .await;
        result.map_err(|GroupFailure { error, next }| GroupFailure {
            error: keep_answer(answer.map(GatewayError::Upstream), error),
            next,
        })
    }

    async fn attempt_group(
        &self,
        request: &Arc<ProxyRequest>,
        group: &Arc<ModelGroup>,
        deadline: Instant,
        attempts: &mut u32,
        answer: &mut Option<UpstreamError>,
    ) -> Result<ProxyResponse, GroupFailure> {
        let s = &self.shared.settings;
        let mut excluded: Vec<Arc<str>> = Vec::new();
        let mut tried: Vec<Arc<str>> = Vec::new();
        let mut retries = 0u32;
        let mut last: Option<GatewayError> = None;
        let fallback = |error: GatewayError| GroupFailure {
            error,
            next: Some(FallbackKind::General),
        };
        let stop = |error: GatewayError| GroupFailure { error, next: None };
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(stop(GatewayError::DeadlineExceeded { after: s.deadline }));
            }
            let serving: Vec<&Arc<Deployment>> = group
                .deployments
                .iter()
                .filter(|d| {
                    d.serves(request.endpoint) && request.may_use(d) && !excluded.contains(&d.id)
                })
                .collect();
            if serving.is_empty() && excluded.is_empty() && last.is_none() {
                let e = GatewayError::EndpointNotSupported {
                    model: group.name.to_string(),
                    endpoint: request.endpoint.name(),
                };
                return Err(if *attempts == 0 { stop(e) } else { fallback(e) });
            }
            let (ready, waits) = partition(&serving, now);
            if ready.is_empty() {
                match next_wait(&waits) {
                    // Only `Retry-After` waits are worth sitting out; past the deadline, answer now.
                    Some(Wait::Busy(until)) if until < deadline => {
                        tokio::time::sleep_until(until).await;
                        continue;
                    }
                    Some(Wait::Busy(until)) => {
                        let wait = until - now;
                        return Err(stop(last.unwrap_or_else(|| no_healthy(group, Some(wait)))));
                    }
                    Some(Wait::Cooling(until)) => {
                        return Err(fallback(
                            last.unwrap_or_else(|| no_healthy(group, Some(until - now))),
                        ));
                    }
                    Some(Wait::AtLimit(until)) => {
                        let limited = GatewayError::RateLimited {
                            scope: RateLimitScope::Deployment,
                            retry_after: Some(until - now),
                            limit: None,
                        };
                        return Err(fallback(last.unwrap_or(limited)));
                    }
                    None => return Err(fallback(last.unwrap_or_else(|| no_healthy(group, None)))),
                }
            }
            // A retry moves to a deployment this request has not tried yet, when there is one.
            let untried: Vec<&Arc<Deployment>> = ready
                .iter()
                .copied()
                .filter(|d| !tried.contains(&d.id))
                .collect();
            let candidates = if untried.is_empty() { ready } else { untried };
            // A follow-up of a stored Responses answer goes back to the deployment that made it.
            let affine = request
                .responses
                .as_ref()
                .and_then(|r| r.affinity.as_ref())
                .and_then(|a| candidates.iter().position(|d| d.id == *a));
            let pick = affine.unwrap_or_else(|| self.shared.core.pick(&candidates, now));
            let deployment = candidates[pick].clone();
            // After a cooldown, one probe across the fleet: a replica that loses the slot keeps
            // the deployment cooled and picks again.
            if deployment.state.probe_due(now) && !self.shared.events.probe(&deployment).await {
                continue;
            }
            tried.push(deployment.id.clone());
            *attempts += 1;
            let started = Instant::now();
            let in_flight = deployment.state.begin(started);
            self.shared.events.sent(&deployment);
            let attempt = Attempt {
                request: request.clone(),
                deployment: deployment.clone(),
            };
            let result =
                tokio::time::timeout_at(deadline, self.inner.clone().oneshot(attempt)).await;
            drop(in_flight);
            let error = match result {
                Err(_) => return Err(stop(GatewayError::DeadlineExceeded { after: s.deadline })),
                Ok(Ok(mut response)) => {
                    if deployment.state.success(started.elapsed()) {
                        self.shared.events.recovered(&deployment);
                    }
                    // Its tpm is charged with the usage once known.
                    let tokens = |u: &crate::openai::Usage| {
                        u.total_tokens.max(u.prompt_tokens + u.completion_tokens)
                    };
                    if let Some(usage) = &response.usage {
                        deployment.state.add_tokens(Instant::now(), tokens(usage));
                    }
                    if let ReplyBody::Stream(sse) = &mut response.body {
                        if deployment.config.tpm.is_some() {
                            let charged = deployment.clone();
                            sse.as_mut().on_end(move |end| {
                                if let Some(usage) = &end.usage {
                                    charged.state.add_tokens(Instant::now(), tokens(usage));
                                }
                            });
                        }
                        // The deadline bounds the whole request, the stream included.
                        sse.as_mut().set_deadline(deadline, s.deadline);
                        // A rescue continues a chat; a text completion has no messages to extend.
                        if s.midstream_rescue && request.endpoint == Endpoint::Chat {
                            let candidates = self.rescue_candidates(request, group, &deployment);
                            let plan = Plan::new(
                                self.inner.clone(),
                                request.clone(),
                                deployment,
                                candidates,
                                deadline,
                                s,
                            );
                            sse.as_mut().set_rescue(Box::new(plan));
                        }
                    }
                    return Ok(response);
                }
                Ok(Err(error)) => error,
            };
            let mut error = error;
            if let GatewayError::Upstream(e) = &mut error {
                // A `Retry-After` of years would black the deployment out: take at most the cap.
                e.retry_after = e.retry_after.map(|after| after.min(s.max_retry_after));
            }
            let now = Instant::now();
            if is_unserved_endpoint(&error, &deployment, request) {
                // A 404 for an endpoint this deployment does not serve is the caller's error for
                // that endpoint, not a broken deployment: no cooldown.
                excluded.push(deployment.id.clone());
                last = Some(GatewayError::EndpointNotSupported {
                    model: group.name.to_string(),
                    endpoint: request.endpoint.name(),
                });
                continue;
            }
            if let GatewayError::Upstream(e) = &error {
                *answer = Some(e.clone());
            }
            match classify(&error) {
                Decision::Retry(reason) => {
                    let retry_after = match &error {
                        GatewayError::Upstream(e) => e.retry_after,
                        _ => None,
                    };
                    match retry_after {
                        // Not a failure: the deployment said when to come back.
                        Some(after) => deployment.state.busy_until(now + after),
                        None => {
                            if deployment.state.failure(now, s.allowed_fails, s.cooldown) {
                                self.shared.events.cooled(&deployment, s.cooldown).await;
                            }
                        }
                    }
                    if retries >= s.num_retries {
                        return Err(fallback(error));
                    }
                    retries += 1;
                    self.shared
                        .metrics
                        .retries
                        .with_label_values(&[&group.name, reason.label()])
                        .inc();
                    let others = group.deployments.iter().any(|d| {
                        d.id != deployment.id
                            && d.serves(request.endpoint)
                            && request.may_use(d)
                            && !excluded.contains(&d.id)
                            && d.state.availability(now) == Availability::Ready
                    });
                    if !others && retry_after.is_none() {
                        let wait = self.shared.backoff.delay(retries - 1, None);
                        if now + wait >= deadline {
                            return Err(fallback(error));
                        }
                        tokio::time::sleep(wait).await;
                    }
                }
                Decision::Silent => {
                    if deployment.state.failure(now, s.allowed_fails, s.cooldown) {
                        self.shared.events.cooled(&deployment, s.cooldown).await;
                    }
                    excluded.push(deployment.id.clone());
                    self.shared
                        .metrics
                        .retries
                        .with_label_values(&[&group.name, RetryReason::Timeout.label()])
                        .inc();
                }
                Decision::Misconfigured => {
                    deployment.state.cool_down(now, s.cooldown);
                    self.shared.events.cooled(&deployment, s.cooldown).await;
                    excluded.push(deployment.id.clone());
                }
                Decision::Fallback(kind) => {
                    return Err(GroupFailure {
                        error,
                        next: Some(kind),
                    });
                }
                Decision::Fail => return Err(stop(error)),
            }
            last = Some(error);
        }
    }
}
