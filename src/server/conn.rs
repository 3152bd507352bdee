//! One client connection: HTTP/1.1 or h2c (hyper-util's auto builder) with hyper's timer wired
//! in, a header-read timeout, an idle timeout, and a drain that neither waits on a client that
//! sends nothing nor cuts a stream silently.

use std::{
    convert::Infallible,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    task::{Context, Poll, ready},
    time::Duration,
};

use axum::body::Body;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{Request, Response, header};
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto,
};
use pin_project_lite::pin_project;
use tokio::{net::TcpStream, sync::Notify, sync::watch, time::Instant};
use tower::ServiceExt;

use crate::{config::ServerSettings, error::GatewayError, metrics::ConnectionMetrics};

/// Where the server is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Accepting and serving.
    Serving,
    /// Finishing in-flight requests; idle connections close at once.
    Draining,
    /// The drain timeout passed: open streams end with an in-band error event.
    Cut,
}

/// Requests in flight on one connection, and since when it has had none.
struct Activity {
    started: Instant,
    in_flight: AtomicUsize,
    requests: AtomicUsize,
    /// Milliseconds after `started` when `in_flight` last dropped to 0.
    idle_since_ms: AtomicU64,
    changed: Notify,
}

/// Why a connection was closed by the gateway.
enum Closed {
    /// It finished by itself (the client closed, or hyper ended it).
    Done(Result<(), Box<dyn std::error::Error + Send + Sync>>),
    /// No request in flight for too long.
    Idle { before_first_request: bool },
}

/// Serves one accepted connection to its end. `_permit` is its slot under `max_connections`.
pub(super) async fn serve(
    tcp: TcpStream,
    _permit: tokio::sync::OwnedSemaphorePermit,
    router: axum::Router,
    settings: Arc<ServerSettings>,
    mut phase: watch::Receiver<Phase>,
    metrics: ConnectionMetrics,
) {
    metrics.open.inc();
    let _open = scopeguard(&metrics);
    let activity = Arc::new(Activity {
        started: Instant::now(),
        in_flight: AtomicUsize::new(0),
        requests: AtomicUsize::new(0),
        idle_since_ms: AtomicU64::new(0),
        changed: Notify::new(),
    });
    let service = ConnService {
        router,
        activity: activity.clone(),
        phase: phase.clone(),
    };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        .keep_alive(true);
    builder.http2().timer(TokioTimer::new());
    let conn = builder.serve_connection(TokioIo::new(tcp), service);
    tokio::pin!(conn);
    let mut draining = false;
    let closed = loop {
        if *phase.borrow_and_update() != Phase::Serving && !draining {
            draining = true;
            conn.as_mut().graceful_shutdown();
        }
        tokio::select! {
            result = conn.as_mut() => break Closed::Done(result),
            closed = idle(&activity, &settings, draining) => break closed,
            changed = phase.changed(), if !draining => {
                if changed.is_err() {
                    draining = true; // the server is gone: finish what is in flight
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    };
    match closed {
        Closed::Done(Ok(())) => {}
        Closed::Done(Err(e)) => {
            let header_timeout = e
                .downcast_ref::<hyper::Error>()
                .is_some_and(hyper::Error::is_timeout);
            if header_timeout {
                metrics.closed.with_label_values(&["header_timeout"]).inc();
                tracing::debug!("client connection closed: request headers not complete in time");
            } else {
                tracing::debug!(error = %e, "client connection ended with an error");
            }
        }
        Closed::Idle { .. } if draining => {
            metrics.closed.with_label_values(&["drain"]).inc();
            // Let the last answer's bytes leave before the socket is dropped.
            let _ = tokio::time::timeout(Duration::from_secs(1), conn.as_mut()).await;
        }
        Closed::Idle {
            before_first_request,
        } => {
            metrics.closed.with_label_values(&["idle"]).inc();
            let why = if before_first_request {
                "no complete request in time"
            } else {
                "idle"
            };
            tracing::debug!(why, "client connection closed");
        }
    }
}

/// Resolves when the connection has had no request in flight for too long: the header-read
/// timeout before its first request, the idle timeout after; at once while draining.
async fn idle(activity: &Activity, settings: &ServerSettings, draining: bool) -> Closed {
    loop {
        let changed = activity.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let before_first_request = activity.requests.load(Ordering::Acquire) == 0;
        if activity.in_flight.load(Ordering::Acquire) > 0 {
            changed.await;
            continue;
        }
        if draining {
            return Closed::Idle {
                before_first_request,
            };
        }
        let limit = if before_first_request {
            settings.header_read_timeout
        } else {
            settings.idle_timeout
        };
        let since = Duration::from_millis(activity.idle_since_ms.load(Ordering::Acquire));
        let deadline = activity.started + since + limit;
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => {
                if activity.in_flight.load(Ordering::Acquire) == 0 {
                    return Closed::Idle { before_first_request };
                }
            }
            () = changed => {}
        }
    }
}

fn scopeguard(metrics: &ConnectionMetrics) -> impl Drop + use<> {
    struct Open(prometheus::IntGauge);
    impl Drop for Open {
        fn drop(&mut self) {
            self.0.dec();
        }
    }
    Open(metrics.open.clone())
}

/// The per-connection service: the router, with each request counted until its body ends.
#[derive(Clone)]
struct ConnService {
    router: axum::Router,
    activity: Arc<Activity>,
    phase: watch::Receiver<Phase>,
}

impl hyper::service::Service<Request<Incoming>> for ConnService {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response<Body>, Infallible>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let guard = InFlight::enter(self.activity.clone());
        let router = self.router.clone();
        let phase = self.phase.clone();
        Box::pin(async move {
            let response = router.oneshot(request.map(Body::new)).await?;
            let is_sse = response
                .headers()
                .get(header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
            let cut: Option<BoxFuture<'static, ()>> = is_sse.then(|| {
                let mut phase = phase;
                Box::pin(async move {
                    if phase.wait_for(|p| *p == Phase::Cut).await.is_err() {
                        std::future::pending::<()>().await;
                    }
                }) as BoxFuture<'static, ()>
            });
            Ok(response.map(|inner| {
                Body::new(Tracked {
                    inner,
                    guard: Some(guard),
                    cut,
                    ended: false,
                })
            }))
        })
    }
}

/// One request in flight on a connection; dropping it marks the end.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn enter(activity: Arc<Activity>) -> Self {
        activity.requests.fetch_add(1, Ordering::AcqRel);
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        activity.changed.notify_waiters();
        Self(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let a = &self.0;
        let ms = u64::try_from(a.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        a.idle_since_ms.store(ms, Ordering::Release);
        a.in_flight.fetch_sub(1, Ordering::AcqRel);
        a.changed.notify_waiters();
    }
}

pin_project! {
    /// A response body counted as in flight until it ends; an SSE body ends with an error event
    /// when the drain timeout passes.
    struct Tracked {
        #[pin]
        inner: Body,
        guard: Option<InFlight>,
        cut: Option<BoxFuture<'static, ()>>,
        ended: bool,
    }
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.project();
        if *this.ended {
            return Poll::Ready(None);
        }
        if let Some(cut) = this.cut.as_mut() {
            if cut.as_mut().poll(cx).is_ready() {
                *this.ended = true;
                this.cut.take();
                this.guard.take();
                let event = crate::sse::error_json_event(&GatewayError::ShuttingDown.to_json());
                return Poll::Ready(Some(Ok(Frame::data(event))));
            }
        }
        let polled = ready!(this.inner.poll_frame(cx));
        if polled.is_none() {
            *this.ended = true;
            this.guard.take();
        }
        Poll::Ready(polled)
    }

    fn is_end_stream(&self) -> bool {
        self.ended || (self.cut.is_none() && self.inner.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        if self.cut.is_some() {
            SizeHint::default()
        } else {
            self.inner.size_hint()
        }
    }
}
