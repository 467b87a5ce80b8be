//! The load driver behind `atp-dev bench` and the benchmark suite:
//! `concurrency` workers share `requests` calls, each timed on its own,
//! and the report gives throughput and latency percentiles.
//!
//! The driver is generic over how a call is made: over atp-dev's HTTP call
//! API (the CLI), or in-process through [`DevServer::call_with`] (tests and
//! the suite). [`ceiling`] measures what the driver itself can do, so a
//! report can show it is not the bottleneck.
//!
//! ```
//! use atp_dev::bench::{BenchOptions, Outcome, drive};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let options = BenchOptions { requests: 100, concurrency: 4 };
//! let report = drive(options, None, || async { Outcome::Answered(serde_json::json!(1)) }).await;
//! assert_eq!(report.requests, 100);
//! assert_eq!(report.errors, 0);
//! # }
//! ```
//!
//! [`DevServer::call_with`]: crate::DevServer::call_with

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

/// How much load to drive.
#[derive(Debug, Clone, Copy)]
pub struct BenchOptions {
    /// Calls in all.
    pub requests: usize,
    /// Calls in flight at once.
    pub concurrency: usize,
}

/// How one call ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The tool answered (an `{"error": ...}` result counts as an error).
    Answered(Value),
    /// No answer in time.
    TimedOut,
    /// No answer: the tool is unknown, the server unreachable, ...
    Failed(String),
}

/// What a run measured. Serialized as the `--json` output of `atp-dev bench`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchReport {
    /// Calls made.
    pub requests: usize,
    /// Calls in flight at once.
    pub concurrency: usize,
    /// Calls answered with a result.
    pub ok: usize,
    /// Calls answered `{"error": ...}` or not answered for another reason
    /// than a timeout.
    pub errors: usize,
    /// Calls with no answer in time.
    pub timeouts: usize,
    /// Wall time of the run, in seconds.
    pub elapsed_s: f64,
    /// Calls per second (all of them, errors included).
    pub throughput_per_s: f64,
    /// Latency percentiles and maximum, in milliseconds, over every call.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// The slowest call.
    pub max_ms: f64,
    /// What the driver can do against a call that costs nothing, when
    /// measured ([`ceiling`] or `atp-dev bench --ceiling`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver_ceiling_per_s: Option<f64>,
    /// The first failure's text, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_failure: Option<String>,
}

/// Runs `options.requests` calls of `call`, `options.concurrency` at a
/// time; `done`, if given, counts finished calls as they finish (for a
/// progress display).
pub async fn drive<F, Fut>(
    options: BenchOptions,
    done: Option<Arc<AtomicUsize>>,
    call: F,
) -> BenchReport
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let requests = options.requests;
    let concurrency = options.concurrency.clamp(1, requests.max(1));
    let call = Arc::new(call);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let call = call.clone();
            let next = next.clone();
            let done = done.clone();
            tokio::spawn(async move {
                let mut tally = Tally::default();
                while next.fetch_add(1, Ordering::Relaxed) < requests {
                    let at = Instant::now();
                    let outcome = call().await;
                    tally.add(at.elapsed(), outcome);
                    if let Some(done) = &done {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
                tally
            })
        })
        .collect();
    let mut tally = Tally::default();
    for worker in workers {
        match worker.await {
            Ok(part) => tally.merge(part),
            Err(err) => tally.add(Duration::ZERO, Outcome::Failed(err.to_string())),
        }
    }
    tally.report(requests, concurrency, started.elapsed())
}

/// The driver's own ceiling: the same workers against a call that is
/// answered at once, in calls per second.
pub async fn ceiling(options: BenchOptions) -> f64 {
    drive(options, None, || async { Outcome::Answered(Value::Null) })
        .await
        .throughput_per_s
}

#[derive(Debug, Default)]
struct Tally {
    latencies: Vec<Duration>,
    ok: usize,
    errors: usize,
    timeouts: usize,
    first_failure: Option<String>,
}

impl Tally {
    fn add(&mut self, latency: Duration, outcome: Outcome) {
        self.latencies.push(latency);
        match outcome {
            Outcome::Answered(result) if is_error(&result) => {
                self.errors += 1;
                self.first_failure
                    .get_or_insert_with(|| format!("the tool answered {result}"));
            }
            Outcome::Answered(_) => self.ok += 1,
            Outcome::TimedOut => self.timeouts += 1,
            Outcome::Failed(why) => {
                self.errors += 1;
                self.first_failure.get_or_insert(why);
            }
        }
    }

    fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        self.ok += other.ok;
        self.errors += other.errors;
        self.timeouts += other.timeouts;
        if self.first_failure.is_none() {
            self.first_failure = other.first_failure;
        }
    }

    fn report(mut self, requests: usize, concurrency: usize, elapsed: Duration) -> BenchReport {
        self.latencies.sort_unstable();
        let percentile = |p: f64| -> f64 {
            if self.latencies.is_empty() {
                return 0.0;
            }
            // Nearest rank.
            let rank = ((p / 100.0) * self.latencies.len() as f64).ceil() as usize;
            millis(self.latencies[rank.clamp(1, self.latencies.len()) - 1])
        };
        let secs = elapsed.as_secs_f64();
        BenchReport {
            requests,
            concurrency,
            ok: self.ok,
            errors: self.errors,
            timeouts: self.timeouts,
            elapsed_s: secs,
            throughput_per_s: if secs > 0.0 {
                self.latencies.len() as f64 / secs
            } else {
                0.0
            },
            p50_ms: percentile(50.0),
            p90_ms: percentile(90.0),
            p99_ms: percentile(99.0),
            max_ms: self.latencies.last().copied().map_or(0.0, millis),
            driver_ceiling_per_s: None,
            first_failure: self.first_failure,
        }
    }
}

fn is_error(result: &Value) -> bool {
    result.as_object().is_some_and(|o| o.contains_key("error"))
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_outcomes_and_ranks_latencies() {
        let n = Arc::new(AtomicUsize::new(0));
        let counter = n.clone();
        let done = Arc::new(AtomicUsize::new(0));
        let report = drive(
            BenchOptions {
                requests: 10,
                concurrency: 3,
            },
            Some(done.clone()),
            move || {
                let i = counter.fetch_add(1, Ordering::Relaxed);
                async move {
                    match i % 5 {
                        0 => Outcome::TimedOut,
                        1 => Outcome::Answered(serde_json::json!({"error": "no"})),
                        2 => Outcome::Failed("gone".to_owned()),
                        _ => Outcome::Answered(serde_json::json!(i)),
                    }
                }
            },
        )
        .await;
        assert_eq!(report.requests, 10);
        assert_eq!(report.concurrency, 3);
        assert_eq!((report.ok, report.errors, report.timeouts), (4, 4, 2));
        assert_eq!(done.load(Ordering::Relaxed), 10);
        assert!(report.p50_ms <= report.p90_ms && report.p90_ms <= report.p99_ms);
        assert!(report.p99_ms <= report.max_ms);
        assert!(report.first_failure.is_some());
    }
}
