//! Commands from concurrent requests leave for Redis together.
//!
//! [`Redis::query`](super::Redis::query) and [`Redis::invoke`](super::Redis::invoke) queue their
//! command here and await its reply. One flusher task per handle wakes when the queue fills from
//! empty, yields once so that every other ready request task runs (and queues its commands)
//! first, then sends everything queued as one pipeline: one write, one read of the replies, one
//! timer. Under load many requests share a round trip; alone, a request's commands (a key's
//! admission and its cache lookup) still share theirs, and the yield costs a few µs.
//!
//! The redis client pipelines too, but its driver runs right after the task that queued a
//! command, so without this every request paid its own write, read, timer and driver wake-up.

use std::sync::{
    Arc, Weak,
    atomic::{AtomicBool, Ordering},
};

use parking_lot::Mutex;
use redis::{Cmd, Value};
use tokio::sync::{Notify, oneshot};

use super::{Inner, RedisError};

/// At most this many commands in one pipeline; more wait for the next.
const MAX_BATCH: usize = 256;

/// The reply of one queued command (server errors included, as `Err`).
pub(super) type Reply = Result<Value, RedisError>;

/// The commands waiting for the flusher.
#[derive(Default)]
pub(super) struct Queue {
    pending: Mutex<Vec<Queued>>,
    wake: Notify,
    closed: AtomicBool,
}

struct Queued {
    cmd: Cmd,
    reply: oneshot::Sender<Reply>,
}

impl Queue {
    /// Queues `cmd`; the receiver gets its reply, or is dropped if the handle goes away first.
    pub(super) fn push(&self, cmd: Cmd) -> oneshot::Receiver<Reply> {
        let (reply, rx) = oneshot::channel();
        let was_empty = {
            let mut pending = self.pending.lock();
            pending.push(Queued { cmd, reply });
            pending.len() == 1
        };
        if was_empty {
            self.wake.notify_one();
        }
        rx
    }

    /// Stops the flusher (the handle is gone).
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    fn take(&self) -> Vec<Queued> {
        let mut pending = self.pending.lock();
        if pending.len() <= MAX_BATCH {
            std::mem::take(&mut *pending)
        } else {
            pending.drain(..MAX_BATCH).collect()
        }
    }
}

/// Sends what is queued, batch after batch, until the handle is dropped.
pub(super) async fn flusher(inner: Weak<Inner>, queue: Arc<Queue>) {
    loop {
        queue.wake.notified().await;
        if queue.closed.load(Ordering::Acquire) {
            return;
        }
        // Let the other ready tasks queue their commands before this batch leaves.
        tokio::task::yield_now().await;
        loop {
            let batch = queue.take();
            if batch.is_empty() {
                break;
            }
            let Some(inner) = inner.upgrade() else {
                return;
            };
            tokio::spawn(send(inner, batch));
        }
    }
}

/// One round trip for `batch`, bounded by the timeout; every command gets its reply or the error.
async fn send(inner: Arc<Inner>, batch: Vec<Queued>) {
    inner.metrics.batch.observe(batch.len() as f64);
    let mut pipe = redis::pipe();
    pipe.ignore_errors();
    let replies: Vec<_> = batch
        .into_iter()
        .map(|q| {
            pipe.add_command(q.cmd);
            q.reply
        })
        .collect();
    let result = inner
        .round_trip(|mut conn| async move { pipe.query_async::<Vec<Value>>(&mut conn).await })
        .await;
    match result {
        Ok(values) if values.len() == replies.len() => {
            for (value, reply) in values.into_iter().zip(replies) {
                let _ = reply.send(value.extract_error().map_err(RedisError::from_redis));
            }
        }
        Ok(_) => {
            for reply in replies {
                let _ = reply.send(Err(RedisError::Protocol));
            }
        }
        Err(e) => {
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt as _;

    use super::*;

    #[test]
    fn the_first_command_wakes_the_flusher_and_batches_are_capped() {
        let queue = Queue::default();
        let _replies: Vec<_> = (0..MAX_BATCH + 10)
            .map(|i| queue.push(redis::cmd("GET").arg(i).take()))
            .collect();
        // One wake-up for the whole burst: the flusher takes it in capped batches.
        assert!(
            queue.wake.notified().now_or_never().is_some(),
            "the first command wakes the flusher"
        );
        assert_eq!(queue.take().len(), MAX_BATCH);
        assert_eq!(queue.take().len(), 10);
        assert!(queue.take().is_empty());
        assert!(
            queue.wake.notified().now_or_never().is_none(),
            "only the first command of a burst wakes the flusher"
        );
    }

    #[tokio::test]
    async fn a_dropped_batch_tells_its_callers() {
        let queue = Queue::default();
        let reply = queue.push(redis::cmd("PING"));
        drop(queue.take());
        assert!(reply.await.is_err());
    }
}
