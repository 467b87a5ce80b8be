//! A cancellation flag that can be polled from a blocking thread and
//! awaited from a task: what a call's [`Context`](crate::Context) watches.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// Fired once, seen by every clone.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cancel(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    fired: AtomicBool,
    notify: Notify,
}

impl Cancel {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Fires it; every waiter wakes.
    pub(crate) fn fire(&self) {
        self.0.fired.store(true, Ordering::Release);
        self.0.notify.notify_waiters();
    }

    pub(crate) fn is_fired(&self) -> bool {
        self.0.fired.load(Ordering::Acquire)
    }

    /// Resolves once fired.
    pub(crate) async fn fired(&self) {
        loop {
            let notified = self.0.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_fired() {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_wake_when_fired_and_late_waiters_return_at_once() {
        let cancel = Cancel::new();
        let waiter = tokio::spawn({
            let cancel = cancel.clone();
            async move { cancel.fired().await }
        });
        tokio::task::yield_now().await;
        assert!(!cancel.is_fired());
        cancel.fire();
        waiter.await.unwrap();
        cancel.fired().await;
        assert!(cancel.is_fired());
    }
}
