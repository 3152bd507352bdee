//! Load shedding: at most `max_parallel_requests` model requests at once (an open stream counts
//! until it ends). Beyond that the answer is 429 at once — never an unbounded queue — while
//! health and metrics keep answering.

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

/// axum middleware fn: 429 when `max_parallel_requests` are already in flight.
pub async fn limit_parallel(
    State(app): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let rt = app.runtime();
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
    next.run(request).await.map(|inner| {
        Body::new(Permitted {
            inner,
            permit: Some(permit),
        })
    })
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
