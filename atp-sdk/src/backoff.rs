//! Exponential backoff with a cap and jitter, for reconnecting and for
//! retrying an answer's delivery.

use std::time::Duration;

/// The n-th delay is drawn from `[d/2, d]` where `d = min(cap, base * 2^n)`.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
}

impl Backoff {
    pub(crate) fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap: cap.max(base),
            attempt: 0,
        }
    }

    /// The next delay.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let factor = 2u32.saturating_pow(self.attempt.min(20));
        self.attempt = self.attempt.saturating_add(1);
        let ceiling = self.base.saturating_mul(factor).min(self.cap);
        let half = ceiling / 2;
        half + half.mul_f64(fastrand::f64())
    }

    /// Back to the first delay (after a connection that held).
    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_within_jitter_bounds_up_to_the_cap() {
        let base = Duration::from_millis(500);
        let cap = Duration::from_secs(30);
        let mut backoff = Backoff::new(base, cap);
        for attempt in 0..12u32 {
            let ceiling = (base * 2u32.pow(attempt)).min(cap);
            let delay = backoff.next_delay();
            assert!(
                delay >= ceiling / 2 && delay <= ceiling,
                "attempt {attempt}: {delay:?} in [{:?}, {ceiling:?}]",
                ceiling / 2
            );
        }
        backoff.reset();
        assert!(
            backoff.next_delay() <= Duration::from_millis(500),
            "the first retry comes within a second"
        );
    }

    #[test]
    fn backoff_jitters() {
        let mut delays: Vec<Duration> = (0..20)
            .map(|_| Backoff::new(Duration::from_secs(1), Duration::from_secs(1)).next_delay())
            .collect();
        delays.dedup();
        assert!(delays.len() > 1, "not every delay is the same");
    }

    #[test]
    fn huge_settings_saturate_instead_of_overflowing() {
        let mut backoff = Backoff::new(Duration::MAX, Duration::MAX);
        for _ in 0..40 {
            let _ = backoff.next_delay();
        }
    }
}
