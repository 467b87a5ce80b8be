//! Answers that came for no waiting call (late ones, and those to frames
//! sent with `send_raw`), kept for inspection within bounds of count and
//! bytes.

use std::collections::VecDeque;

use atp_sdk::protocol::RequestId;
use serde_json::Value;

/// How many stray answers are kept, at most.
pub(super) const STRAY_KEPT: usize = 1000;

/// How many bytes (of JSON) of stray answers are kept, at most.
pub(super) const STRAY_BYTES: usize = 16 << 20;

/// The latest stray answers.
#[derive(Debug, Default)]
pub(super) struct Stray {
    answers: VecDeque<(RequestId, Value, usize)>,
    bytes: usize,
}

impl Stray {
    /// Keeps an answer, dropping the oldest ones past the bounds. An
    /// answer bigger than the byte bound on its own is kept as a note of
    /// its size.
    pub(super) fn keep(&mut self, request_id: RequestId, result: Value) {
        let size = serde_json::to_vec(&result).map_or(0, |v| v.len());
        let (result, size) = if size > STRAY_BYTES {
            (serde_json::json!({ "truncated": true, "bytes": size }), 64)
        } else {
            (result, size)
        };
        while self.answers.len() >= STRAY_KEPT || self.bytes + size > STRAY_BYTES {
            let Some((_, _, dropped)) = self.answers.pop_front() else {
                break;
            };
            self.bytes -= dropped;
        }
        self.bytes += size;
        self.answers.push_back((request_id, result, size));
    }

    pub(super) fn all(&self) -> Vec<(RequestId, Value)> {
        self.answers
            .iter()
            .map(|(id, value, _)| (id.clone(), value.clone()))
            .collect()
    }

    pub(super) fn len(&self) -> usize {
        self.answers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stray_answers_are_bounded_in_count_and_bytes() {
        let mut stray = Stray::default();
        for i in 0..(STRAY_KEPT + 10) {
            stray.keep(RequestId::from(i.to_string()), Value::from(i));
        }
        assert_eq!(stray.len(), STRAY_KEPT);
        let big = Value::String("x".repeat(1 << 20));
        for i in 0..40 {
            stray.keep(RequestId::from(format!("big-{i}")), big.clone());
        }
        assert!(stray.bytes <= STRAY_BYTES, "{} bytes", stray.bytes);
        assert_eq!(stray.all().last().unwrap().0, RequestId::from("big-39"));
    }
}
