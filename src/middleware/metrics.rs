//! `MetricsLayer`: the outermost layer of the model stack. Counts requests by outcome, times them
//! (streams until their last byte), tracks in-flight requests, tokens, time to first token and the
//! gateway's own overhead; and, being the one place that sees the usage of every answer, what
//! each answer cost (`x-switchyard-response-cost`, the spend metric, the payer's counters).

use std::{
    sync::Arc,
    task::{Context, Poll},
};

use futures_util::future::BoxFuture;
use tower::{Layer, Service};

use crate::{
    error::GatewayError,
    metrics::InFlight,
    model::usd,
    proxy::{ProxyRequest, ProxyResponse, ReplyBody},
    spend::{COST_HEADERS, Payer, Spend},
};

/// Wires [`Metrics`].
#[derive(Debug, Clone)]
pub struct MetricsLayer {
    families: crate::metrics::Metrics,
    spend: Arc<Spend>,
}

/// Records the metrics of every request that reaches the model stack.
#[derive(Debug, Clone)]
pub struct Metrics<S> {
    inner: S,
    families: crate::metrics::Metrics,
    spend: Arc<Spend>,
}

impl MetricsLayer {
    /// The layer, feeding `families` and charging answers to `spend`.
    pub fn new(families: crate::metrics::Metrics, spend: Arc<Spend>) -> Self {
        Self { families, spend }
    }
}

impl<S> Layer<S> for MetricsLayer {
    type Service = Metrics<S>;
    fn layer(&self, inner: S) -> Metrics<S> {
        Metrics {
            inner,
            families: self.families.clone(),
            spend: self.spend.clone(),
        }
    }
}

impl<S> Service<ProxyRequest> for Metrics<S>
where
    S: Service<ProxyRequest, Response = ProxyResponse, Error = GatewayError> + Send,
    S::Future: Send + 'static,
{
    type Response = ProxyResponse;
    type Error = GatewayError;
    type Future = BoxFuture<'static, Result<ProxyResponse, GatewayError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), GatewayError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: ProxyRequest) -> Self::Future {
        let group = request.group.clone();
        let received = request.received;
        // `/v1/responses` goes through the stack as chat; its label says what the client called.
        let endpoint = if request.responses.is_some() {
            "responses"
        } else {
            request.endpoint.label()
        };
        let in_flight = InFlight::enter(&group.metrics.in_flight);
        let families = self.families.clone();
        let spend = self.spend.clone();
        let payer = Payer::from(&request.identity);
        let future = self.inner.call(request);
        Box::pin(async move {
            let m = &group.metrics;
            match future.await {
                Ok(mut response) => {
                    response.overhead = received.elapsed().saturating_sub(response.upstream_wait);
                    m.overhead.observe(response.overhead.as_secs_f64());
                    // A cache hit is labelled `cache`, and spent no upstream tokens.
                    let (deployment, provider): (Arc<str>, &'static str) = match &response.served_by
                    {
                        Some(d) => (d.id.clone(), d.provider_label()),
                        None => (Arc::from("cache"), "cache"),
                    };
                    let counts_tokens = response.served_by.is_some();
                    match &mut response.body {
                        ReplyBody::Json(_) | ReplyBody::Other { .. } => {
                            m.answered(&deployment, provider, 200);
                            families.endpoint(endpoint, 200);
                            let mut micros = 0;
                            if let Some(usage) = response.usage.as_ref().filter(|_| counts_tokens) {
                                m.usage(usage);
                                micros = spend.cost(&deployment, usage);
                            }
                            // Charged before the answer leaves, so what a client was told it
                            // spent is already counted when it reads its key's spend.
                            if let Err(e) =
                                spend.record(payer, &group.name, &deployment, micros).await
                            {
                                tracing::warn!(error = %e, "spend not recorded");
                            }
                            if let Ok(v) = http::HeaderValue::from_str(&usd(micros)) {
                                for name in COST_HEADERS {
                                    response.headers.insert(name, v.clone());
                                }
                            }
                            m.duration.observe(received.elapsed().as_secs_f64());
                            drop(in_flight);
                        }
                        ReplyBody::Stream(sse) => {
                            let group = group.clone();
                            let families = families.clone();
                            sse.as_mut().on_end(move |end| {
                                let m = &group.metrics;
                                m.answered(&deployment, provider, 200);
                                families.endpoint(endpoint, 200);
                                if let Some(usage) = end.usage.as_ref().filter(|_| counts_tokens) {
                                    m.usage(usage);
                                    // A stream is charged when it ends, however it ends.
                                    let micros = spend.cost(&deployment, usage);
                                    let charged =
                                        spend.record(payer, &group.name, &deployment, micros);
                                    if let Ok(rt) = tokio::runtime::Handle::try_current() {
                                        rt.spawn(async move {
                                            if let Err(e) = charged.await {
                                                tracing::warn!(error = %e, "spend not recorded");
                                            }
                                        });
                                    }
                                }
                                if let Some(first) = end.first_content {
                                    m.ttft.observe(
                                        first.saturating_duration_since(received).as_secs_f64(),
                                    );
                                }
                                m.duration.observe(received.elapsed().as_secs_f64());
                                drop(in_flight);
                            });
                        }
                    }
                    Ok(response)
                }
                Err(e) => {
                    if let GatewayError::RateLimited { scope, .. } = &e {
                        families.rate_limited(*scope);
                    }
                    let deployment = e.deployment();
                    let provider = deployment
                        .and_then(|id| group.deployments.iter().find(|d| &d.id == id))
                        .map_or("none", |d| d.provider_label());
                    m.answered(
                        deployment.map_or("none", |d| d),
                        provider,
                        e.status().as_u16(),
                    );
                    families.endpoint(endpoint, e.status().as_u16());
                    m.duration.observe(received.elapsed().as_secs_f64());
                    Err(e)
                }
            }
        })
    }
}
