//! CloudWatch Embedded Metric Format: one log line per event carries its outcome and step latencies.

use crate::domain::Outcome;
use serde_json::{Map, Value, json};
use std::time::Duration;

/// The default CloudWatch namespace (override with `METRICS_NAMESPACE`).
pub const DEFAULT_NAMESPACE: &str = "GenesysEventBridge";

/// One processed event, as far as its metrics need it.
#[derive(Debug, Clone, Copy)]
pub struct EmfEvent<'a> {
    /// What happened.
    pub outcome: &'a Outcome,
    /// How long the event took.
    pub latency: Duration,
    /// Each step's metric name and duration, when the step ran.
    pub steps: &'a [(&'static str, Option<Duration>)],
    /// The event id, as a searchable property.
    pub event_id: Option<&'a str>,
    /// The interaction (or conversation) id, as a searchable property.
    pub interaction_id: Option<&'a str>,
}

/// The EMF line for one event's report: metric `Events` (1) with dimension `Outcome`, and the
/// latencies in milliseconds of the whole event and of each step that ran (`ClaimMs`, `FetchMs`,
/// `DecideMs`, `ApplyMs`, `CompleteMs`), plus `PayloadMismatch` when a duplicate carried another
/// payload, `ConfigurationFailures` when the event failed for want of a configuration fix, and
/// `CodeNotOnQueue` when the policy's code is not assigned to the call's queue.
/// `eventId`, `interactionId` and `traceId` ride along as searchable properties.
pub fn emf_line(
    report: &EmfEvent<'_>,
    namespace: &str,
    timestamp_ms: i64,
    trace_id: Option<&str>,
) -> String {
    let mut metrics = vec![json!({"Name": "Events", "Unit": "Count"})];
    let mut line = Map::new();
    line.insert("Outcome".into(), Value::from(report.outcome.name()));
    line.insert("Events".into(), Value::from(1));
    let mut add_ms = |name: &str, millis: f64, line: &mut Map<String, Value>| {
        metrics.push(json!({"Name": name, "Unit": "Milliseconds"}));
        line.insert(
            name.into(),
            Value::from((millis * 1_000.0).round() / 1_000.0),
        );
    };
    add_ms(
        "LatencyMs",
        report.latency.as_secs_f64() * 1_000.0,
        &mut line,
    );
    for (name, duration) in report.steps {
        if let Some(duration) = *duration {
            add_ms(name, duration.as_secs_f64() * 1_000.0, &mut line);
        }
    }
    if let Outcome::Duplicate {
        same_payload: false,
        ..
    } = report.outcome
    {
        metrics.push(json!({"Name": "PayloadMismatch", "Unit": "Count"}));
        line.insert("PayloadMismatch".into(), Value::from(1));
    }
    // A code not on its queue has its own metric and alarm, not also the general one.
    if report.outcome.needs_configuration_fix()
        && !matches!(report.outcome, Outcome::CodeNotOnQueue { .. })
    {
        metrics.push(json!({"Name": "ConfigurationFailures", "Unit": "Count"}));
        line.insert("ConfigurationFailures".into(), Value::from(1));
    }
    if let Outcome::CodeNotOnQueue { .. } = report.outcome {
        metrics.push(json!({"Name": "CodeNotOnQueue", "Unit": "Count"}));
        line.insert("CodeNotOnQueue".into(), Value::from(1));
    }
    line.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [["Outcome"]],
                "Metrics": metrics,
            }]
        }),
    );
    if let Some(id) = report.event_id {
        line.insert("eventId".into(), Value::from(id));
    }
    if let Some(id) = report.interaction_id {
        line.insert("interactionId".into(), Value::from(id));
    }
    if let Some(id) = trace_id {
        line.insert("traceId".into(), Value::from(id));
    }
    Value::Object(line).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line of an event with id `e-1` about `i-1` that took 12.345 ms.
    fn line_of(
        outcome: &Outcome,
        steps: &[(&'static str, Option<Duration>)],
        trace_id: Option<&str>,
    ) -> Value {
        let event = EmfEvent {
            outcome,
            latency: Duration::from_micros(12_345),
            steps,
            event_id: Some("e-1"),
            interaction_id: Some("i-1"),
        };
        serde_json::from_str(&emf_line(&event, "NS", 1_700_000_000_000, trace_id)).unwrap()
    }

    #[test]
    fn a_patched_event_counts_once_under_its_outcome_with_step_latencies() {
        let steps = [
            ("ClaimMs", Some(Duration::from_millis(2))),
            ("FetchMs", Some(Duration::from_millis(5))),
            ("DecideMs", None),
            ("ApplyMs", Some(Duration::from_millis(4))),
        ];

        let line = line_of(&Outcome::Patched, &steps, Some("abc"));

        assert_eq!(line["Outcome"], "patched");
        assert_eq!(line["Events"], 1);
        assert_eq!(line["LatencyMs"], 12.345);
        assert_eq!(line["FetchMs"], 5.0);
        assert!(line.get("DecideMs").is_none());
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "NS");
        assert_eq!(directive["Dimensions"], json!([["Outcome"]]));
        let names: Vec<&str> = directive["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["Events", "LatencyMs", "ClaimMs", "FetchMs", "ApplyMs"]
        );
        assert_eq!(line["_aws"]["Timestamp"], 1_700_000_000_000_i64);
        assert_eq!(line["traceId"], "abc");
    }

    #[test]
    fn every_metric_named_in_the_directive_is_in_the_line() {
        let outcome = Outcome::Duplicate {
            previous: None,
            same_payload: false,
        };
        let line = line_of(&outcome, &[], None);
        for metric in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
        {
            let name = metric["Name"].as_str().unwrap();
            assert!(line.get(name).is_some(), "{name} is missing");
        }
        assert_eq!(line["PayloadMismatch"], 1);
    }

    #[test]
    fn a_failure_that_needs_a_configuration_fix_is_counted_apart() {
        let outcome = Outcome::Misconfigured {
            reason: "403".into(),
        };

        let line = line_of(&outcome, &[], None);

        assert_eq!(line["Outcome"], "failed");
        assert_eq!(line["ConfigurationFailures"], 1);
        let named = line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|metric| metric["Name"] == "ConfigurationFailures");
        assert!(named);
    }
}
