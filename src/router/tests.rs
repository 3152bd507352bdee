//! The router loop under a paused clock, against a scripted attempt service.

use std::{collections::VecDeque, sync::Arc, time::Duration};

use bytes::Bytes;
use http::StatusCode;
use parking_lot::Mutex;
use prometheus::{Histogram, HistogramOpts, IntGauge};
use tokio::time::Instant;
use tower::{Layer, ServiceExt, service_fn};

use super::{Attempt, RouterLayer, V1};
use crate::{
    config::{self, RouterSettings},
    error::{GatewayError, UpstreamError},
    metrics::Metrics,
    model::{Endpoint, RequestId},
    openai::{ChatView, JsonBody},
    proxy::{
        Deployment, DeploymentState, Identity, ModelGroup, ModelTable, ProxyRequest, ProxyResponse,
        ReplyBody,
    },
};

type Script = Arc<Mutex<VecDeque<Option<GatewayError>>>>;

fn settings(extra: &str) -> (RouterSettings, Vec<config::DeploymentConfig>) {
    let yaml =
        format!("model_list: [{{model_name: g, litellm_params: {{model: mock/m}}}}]\n{extra}");
    let env: std::collections::HashMap<String, String> = Default::default();
    let (c, _) = config::parse(&yaml, "t", &env).unwrap();
    (c.router, c.deployments)
}

fn group(cfgs: Vec<config::DeploymentConfig>, metrics: &Metrics) -> Arc<ModelGroup> {
    let deployments = cfgs
        .into_iter()
        .map(|c| {
            Arc::new(Deployment {
                id: c.id.as_str().into(),
                provider: Arc::new(crate::providers::mock::Mock::new(&c)),
                upstream_metric: Histogram::with_opts(HistogramOpts::new("h", "h")).unwrap(),
                state: DeploymentState::new(IntGauge::new("g", "g").unwrap())
                    .with_limits(c.rpm, c.tpm),
                config: c,
            })
        })
        .collect();
    Arc::new(ModelGroup {
        name: "g".into(),
        deployments,
        metrics: metrics.group("g"),
    })
}

fn request(group: Arc<ModelGroup>) -> ProxyRequest {
    let body = JsonBody::parse(Bytes::from_static(br#"{"model":"g","messages":[]}"#)).unwrap();
    let view = ChatView::read(&body, "messages").unwrap();
    ProxyRequest {
        id: RequestId::generate(),
        endpoint: Endpoint::Chat,
        group,
        body,
        view,
        headers: Default::default(),
        received: Instant::now(),
        identity: Identity::Anonymous,
        responses: None,
        form: None,
        attempts: Default::default(),
        cache_lookup: None,
    }
}

fn upstream(status: u16, retry_after: Option<Duration>) -> GatewayError {
    GatewayError::Upstream(UpstreamError {
        deployment: "g#0".into(),
        status: StatusCode::from_u16(status).unwrap(),
        body: Bytes::from_static(b"{}"),
        retry_after,
    })
}

/// Routes one request; the attempt service answers from `script` (`None` = success, exhausted = hang).
async fn route(
    extra: &str,
    script: Vec<Option<GatewayError>>,
) -> (Result<u32, GatewayError>, Duration, usize) {
    let metrics = Metrics::new().unwrap();
    let (settings, cfgs) = settings(extra);
    let g = group(cfgs, &metrics);
    let script: Script = Arc::new(Mutex::new(script.into()));
    let calls = Arc::new(Mutex::new(0usize));
    let (s, c) = (script.clone(), calls.clone());
    let inner = service_fn(move |attempt: Attempt| {
        let next = s.lock().pop_front();
        *c.lock() += 1;
        async move {
            match next {
                Some(None) => Ok(ProxyResponse {
                    body: ReplyBody::Json(Bytes::from_static(b"{}")),
                    served_by: Some(attempt.deployment),
                    attempts: 1,
                    upstream_wait: Duration::ZERO,
                    usage: None,
                    overhead: Duration::ZERO,
                    headers: Default::default(),
                }),
                Some(Some(e)) => Err(e),
                None => std::future::pending().await,
            }
        }
    });
    let models = Arc::new(ModelTable::new(vec![g.clone()]));
    let router = RouterLayer::new(
        settings,
        Box::new(V1),
        models,
        metrics.router(),
        Arc::new(crate::state::deployments::Local),
    )
    .layer(inner);
    let started = Instant::now();
    let result = router.oneshot(request(g)).await.map(|r| r.attempts);
    let calls = *calls.lock();
    (result, started.elapsed(), calls)
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_on_the_only_deployment_is_waited_out_exactly() {
    let (result, elapsed, calls) = route(
        "",
        vec![Some(upstream(429, Some(Duration::from_secs(3)))), None],
    )
    .await;
    assert_eq!(result.unwrap(), 2);
    assert_eq!(elapsed, Duration::from_secs(3));
    assert_eq!(calls, 2);
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_past_the_deadline_ends_the_request_at_once_with_the_429() {
    let extra = "switchyard_settings: { router: { deadline_seconds: 10 } }";
    let (result, elapsed, calls) = route(
        extra,
        vec![Some(upstream(429, Some(Duration::from_secs(30)))), None],
    )
    .await;
    let e = result.unwrap_err();
    assert_eq!(e.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(elapsed, Duration::ZERO);
    assert_eq!(calls, 1);
}

#[tokio::test(start_paused = true)]
async fn server_errors_back_off_with_bounded_jitter_and_at_least_retry_after() {
    let (result, elapsed, calls) = route(
        "",
        vec![Some(upstream(500, None)), Some(upstream(503, None)), None],
    )
    .await;
    assert_eq!(result.unwrap(), 3);
    assert_eq!(calls, 3);
    // Full jitter: the two waits are at most 250 ms and 500 ms.
    assert!(elapsed <= Duration::from_millis(750), "{elapsed:?}");
    let extra = "router_settings: { retry_after: 2 }";
    let (result, elapsed, _) = route(extra, vec![Some(upstream(500, None)), None]).await;
    assert_eq!(result.unwrap(), 2);
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed <= Duration::from_millis(2250),
        "{elapsed:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn retries_stop_at_num_retries() {
    let extra = "router_settings: { num_retries: 1, allowed_fails: 100 }";
    let (result, _, calls) =
        route(extra, (0..5).map(|_| Some(upstream(502, None))).collect()).await;
    assert_eq!(result.unwrap_err().status(), StatusCode::BAD_GATEWAY);
    assert_eq!(calls, 2);
}

#[tokio::test(start_paused = true)]
async fn the_deadline_ends_a_hanging_attempt_exactly() {
    let extra = "switchyard_settings: { router: { deadline_seconds: 7 } }";
    let (result, elapsed, _) = route(extra, vec![]).await;
    assert_eq!(result.unwrap_err().code(), "deadline_exceeded");
    assert_eq!(elapsed, Duration::from_secs(7));
}
