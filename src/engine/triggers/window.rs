//! Tumbling windows (TumblingWindowInSeconds; docs/lambda-event-source-mappings.md §19).
//!
//! Records fall in fixed windows by their arrival time, aligned on the epoch (a window
//! of 120 s runs 07:04:00 to 07:06:00). A batch never spans two windows. Every
//! invocation of a window carries, after `Records`, the window's `window` {start, end},
//! the `state` the function returned last (`{}` at first), `shardId`, `eventSourceARN`,
//! `isFinalInvokeForWindow` and `isWindowTerminatedEarly`; the function must answer with
//! a `state`, else the invocation failed. When the window is over (a later record
//! arrived, its end passed, or the shard ended) one more invocation, with no records
//! and `isFinalInvokeForWindow: true`, hands the function the final state; it is
//! retried until it succeeds. A state past 1 MB ends the window early
//! (`isWindowTerminatedEarly: true`). The state is stored with the shard's checkpoint,
//! so a restart resumes the window where it was.
//!
//! Chosen where AWS is silent: the first state is `{}`; the final invocation carries an
//! empty `Records`; a window is over 500 ms after its end when nothing later came.

use serde_json::Value;

use crate::engine::streams::civil_from_days;

/// The most state a window keeps ("a maximum of 1 MB per shard").
pub const MAX_STATE: usize = 1024 * 1024;

/// How long after its end a window with no later record is taken as over: writes
/// committed at its very end may still be on their way.
pub const GRACE_MS: i64 = 500;

/// The window in progress on one shard.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub start_ms: i64,
    pub end_ms: i64,
    /// The function's last state.
    pub state: Value,
    /// The state grew past [`MAX_STATE`]: the window ends at once.
    pub terminated_early: bool,
}

impl Window {
    /// The window of `seconds` that holds a record that arrived at `arrival_ms`.
    pub fn of(arrival_ms: i64, seconds: u32) -> Window {
        let width = i64::from(seconds.max(1)) * 1000;
        let start_ms = arrival_ms.div_euclid(width) * width;
        Window {
            start_ms,
            end_ms: start_ms + width,
            state: Value::Object(Default::default()),
            terminated_early: false,
        }
    }

    /// Whether a record that arrived at `arrival_ms` belongs to this window.
    pub fn holds(&self, arrival_ms: i64) -> bool {
        arrival_ms < self.end_ms
    }

    /// What an invocation of this window adds after `Records` (starting with a comma).
    pub fn fields(&self, shard_id: &str, source_arn: &str, final_invoke: bool) -> Vec<u8> {
        let fields = serde_json::json!({
            "window": {"start": iso(self.start_ms), "end": iso(self.end_ms)},
            "state": self.state,
            "shardId": shard_id,
            "eventSourceARN": source_arn,
            "isFinalInvokeForWindow": final_invoke,
            "isWindowTerminatedEarly": final_invoke && self.terminated_early,
        });
        // An object written by serde_json: `{...}`; its members follow `Records`.
        let text = fields.to_string();
        let mut out = Vec::with_capacity(text.len());
        out.push(b',');
        out.extend_from_slice(&text.as_bytes()[1..text.len() - 1]);
        out
    }

    /// Takes the `state` of a function's answer; `false` when it has none (a failed
    /// invocation, as Lambda counts it).
    pub fn take_state(&mut self, answer: &[u8]) -> bool {
        let Ok(Value::Object(mut map)) = serde_json::from_slice::<Value>(answer) else {
            return false;
        };
        match map.remove("state") {
            None | Some(Value::Null) => false,
            Some(state) => {
                self.terminated_early = state.to_string().len() > MAX_STATE;
                self.state = state;
                true
            }
        }
    }
}

/// `2020-12-09T07:04:00Z`: whole seconds, UTC.
pub fn iso(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn windows_align_on_the_epoch_and_write_awss_fields() {
        // 2020-12-09T07:05:10Z in a 120 s window: 07:04:00 to 07:06:00.
        let w = Window::of(1_607_497_510_000, 120);
        assert_eq!(
            (iso(w.start_ms), iso(w.end_ms)),
            ("2020-12-09T07:04:00Z".into(), "2020-12-09T07:06:00Z".into())
        );
        assert!(w.holds(w.end_ms - 1) && !w.holds(w.end_ms));
        let mut event = b"{\"Records\":[]".to_vec();
        event.extend(w.fields("shardId-000000000006", "arn:s", false));
        event.push(b'}');
        let parsed: Value = serde_json::from_slice(&event).unwrap();
        assert_eq!(
            parsed,
            json!({
                "Records": [],
                "window": {"start": "2020-12-09T07:04:00Z", "end": "2020-12-09T07:06:00Z"},
                "state": {},
                "shardId": "shardId-000000000006",
                "eventSourceARN": "arn:s",
                "isFinalInvokeForWindow": false,
                "isWindowTerminatedEarly": false
            })
        );
    }

    #[test]
    fn answers_must_carry_a_state() {
        let mut w = Window::of(0, 60);
        assert!(!w.take_state(b"{}"));
        assert!(!w.take_state(b"{\"state\": null}"));
        assert!(!w.take_state(b"[]"));
        assert!(w.take_state(b"{\"state\": {\"sum\": 3}, \"batchItemFailures\": []}"));
        assert_eq!(w.state, json!({"sum": 3}));
        let big = format!("{{\"state\": {{\"x\": \"{}\"}}}}", "y".repeat(MAX_STATE));
        assert!(w.take_state(big.as_bytes()) && w.terminated_early);
    }
}
