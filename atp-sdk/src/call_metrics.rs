//! The toolkit's metrics, through the [`metrics`] facade: whatever
//! recorder the program installs (Prometheus, StatsD, OpenTelemetry, ...)
//! gets them; with none installed they cost a call into a no-op.
//!
//! | name | kind | labels |
//! |---|---|---|
//! | `atp_calls_total` | counter | `tool`, `outcome` (`ok`, `tool_error`, `invalid`, `timeout`, `panic`, `overloaded`, `cancelled`, `shutting_down`) |
//! | `atp_call_duration_seconds` | histogram | `tool` |
//! | `atp_calls_in_flight` | gauge | |
//! | `atp_calls_queued` | gauge | |
//! | `atp_connected` | gauge (0/1) | |
//! | `atp_reconnects_total` | counter | |
//! | `atp_inbox_polls_total` | counter | |
//!
//! Each tool's handles are registered with the recorder at its first
//! call, so install the recorder before serving.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram};

use crate::error::CallError;
use crate::tool::CallResult;

/// How a call ended, as the `outcome` label says it.
pub(crate) fn outcome(result: &CallResult) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(err) if err.is_validation() => "invalid",
        Err(CallError::TimedOut(_)) => "timeout",
        Err(CallError::Panicked(_)) => "panic",
        Err(CallError::Overloaded(_)) => "overloaded",
        Err(CallError::Cancelled) => "cancelled",
        Err(CallError::ShuttingDown) => "shutting_down",
        Err(_) => "tool_error",
    }
}

const OUTCOMES: [&str; 8] = [
    "ok",
    "tool_error",
    "invalid",
    "timeout",
    "panic",
    "overloaded",
    "cancelled",
    "shutting_down",
];

/// One tool's handles, registered once.
#[derive(Debug, Default)]
pub(crate) struct ToolMetrics(OnceLock<Handles>);

#[derive(Debug)]
struct Handles {
    calls: [Counter; OUTCOMES.len()],
    duration: Histogram,
}

impl ToolMetrics {
    fn handles(&self, tool: &Arc<str>) -> &Handles {
        self.0.get_or_init(|| {
            Handles {
            calls: OUTCOMES.map(|outcome| {
                metrics::counter!("atp_calls_total", "tool" => tool.clone(), "outcome" => outcome)
            }),
            duration: metrics::histogram!("atp_call_duration_seconds", "tool" => tool.clone()),
        }
        })
    }

    /// Counts a call of `tool` that ran (or was refused) and, when it ran,
    /// its duration.
    pub(crate) fn record(&self, tool: &Arc<str>, result: &CallResult, elapsed: Option<Duration>) {
        let handles = self.handles(tool);
        let outcome = outcome(result);
        let index = OUTCOMES
            .iter()
            .position(|o| *o == outcome)
            .expect("every outcome is listed");
        handles.calls[index].increment(1);
        if let Some(elapsed) = elapsed {
            handles.duration.record(elapsed.as_secs_f64());
        }
    }
}

/// The dispatcher's gauges.
#[derive(Debug, Default)]
pub(crate) struct CallGauges(OnceLock<(Gauge, Gauge)>);

impl CallGauges {
    fn gauges(&self) -> &(Gauge, Gauge) {
        self.0.get_or_init(|| {
            (
                metrics::gauge!("atp_calls_in_flight"),
                metrics::gauge!("atp_calls_queued"),
            )
        })
    }

    /// A call was admitted and waits for a running slot.
    pub(crate) fn queued(&self) {
        self.gauges().1.increment(1.0);
    }

    /// A call left the queue (it got a running slot, or its time ran out).
    pub(crate) fn dequeued(&self) {
        self.gauges().1.decrement(1.0);
    }

    /// A call started running.
    pub(crate) fn started(&self) {
        self.gauges().0.increment(1.0);
    }

    /// A call stopped running (answered, or abandoned past its limit).
    pub(crate) fn finished(&self) {
        self.gauges().0.decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_name_each_way_a_call_ends() {
        let cases = [
            (Ok(serde_json::json!(1).into()), "ok"),
            (Err(CallError::Tool("x".into())), "tool_error"),
            (Err(CallError::MissingParameter("x".into())), "invalid"),
            (Err(CallError::MissingAuthToken), "invalid"),
            (Err(CallError::TimedOut(Duration::from_secs(1))), "timeout"),
            (Err(CallError::Panicked("x".into())), "panic"),
            (Err(CallError::Overloaded(1)), "overloaded"),
            (Err(CallError::Cancelled), "cancelled"),
            (Err(CallError::ShuttingDown), "shutting_down"),
        ];
        for (result, expected) in cases {
            assert_eq!(outcome(&result), expected, "{result:?}");
            assert!(OUTCOMES.contains(&expected));
        }
    }
}
