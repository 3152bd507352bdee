//! Load shedding: at most `max_parallel_requests` model requests at once (an open stream counts
//! until it ends). Beyond that the answer is 429 at once — never an unbounded queue — while
//! health and metrics keep answering. A request counts only once its body is read: the body must
//! arrive within `switchyard_settings.server.body_read_timeout_seconds` (408 otherwise) and
//! within `max_request_size_mb` (413), so a client that trickles its body holds no permit.

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    body::Body,
    extract::{Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use pin_project_lite::pin_project;
use tokio::sync::OwnedSemaphorePermit;

use crate::{
    error::{GatewayError, RateLimitScope},
    runtime::AppState,
};

pin_project! {
    /// A response body that holds a concurrency permit until it ends or is dropped.
    struct Permitted {
        #[pin]
        inner: Body,
        permit: Option<OwnedSemaphorePermit>,
    }
}

/// axum middleware fn: reads the body (bounded in time and bytes), then 429 when
/// `max_parallel_requests` are already in flight.
pub(super) async fn limit_parallel(
    State(app): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let rt = app.runtime();
    let (parts, body) = request.into_parts();
    let bytes = match read_body(&rt, &parts.headers, body).await {
        Ok(bytes) => bytes,
        Err(e) => return e.into_response(),
    };
    let Ok(permit) = rt.parallel.clone().try_acquire_owned() else {
        app.metrics.rate_limited(RateLimitScope::Global);
        let e = GatewayError::RateLimited {
            scope: RateLimitScope::Global,
            retry_after: Some(Duration::from_secs(1)),
            limit: None,
        };
        return e.into_response();
    };
    drop(rt);
    let request = Request::from_parts(parts, Body::from(bytes));
    next.run(request).await.map(|inner| {
        Body::new(Permitted {
            inner,
            permit: Some(permit),
        })
    })
}

/// The whole request body, within `max_request_size_mb` (413) and the body read timeout (408).
async fn read_body(
    rt: &crate::runtime::Runtime,
    headers: &http::HeaderMap,
    body: Body,
) -> Result<Bytes, GatewayError> {
    let limit = rt.config.max_request_bytes;
    let after = rt.config.server.body_read_timeout;
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(GatewayError::RequestTooLarge { limit_bytes: limit });
    }
    let collected = Limited::new(body, limit).collect();
    match tokio::time::timeout(after, collected).await {
        Err(_) => Err(GatewayError::RequestTimeout { after }),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(GatewayError::RequestTooLarge { limit_bytes: limit })
        }
        Ok(Err(e)) => Err(GatewayError::invalid(
            format!("could not read the request body: {e}"),
            None,
        )),
    }
}

impl HttpBody for Permitted {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        if let Poll::Ready(None) = polled {
            this.permit.take(); // the request is over: free the slot now, not at drop
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
