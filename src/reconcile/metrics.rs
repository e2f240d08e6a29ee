//! The run's CloudWatch Embedded Metric Format line: `Reconciled` (events published for calls whose events went missing upstream), `Rechecked`, `Examined`, `AlreadyDone`, `OverCap`, `Refused`, `Truncated`.

use super::ReconcileReport;
use serde_json::json;

/// The EMF line of one run in `namespace` at `timestamp_ms`; the alarm on `Reconciled` tells
/// that events are going missing upstream.
pub fn emf_line(report: &ReconcileReport, namespace: &str, timestamp_ms: i64) -> String {
    let metrics = [
        ("Reconciled", report.published()),
        ("Rechecked", report.rechecked()),
        ("Examined", report.examined()),
        ("AlreadyDone", report.already_done()),
        ("OverCap", report.over_cap()),
        ("Refused", report.refused()),
        ("Truncated", usize::from(report.truncated)),
    ];
    let mut line = json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [["Tool"]],
                "Metrics": metrics
                    .iter()
                    .map(|(name, _)| json!({"Name": name, "Unit": "Count"}))
                    .collect::<Vec<_>>(),
            }],
        },
        "Tool": "reconcile",
        "Pages": report.pages,
    });
    for (name, value) in metrics {
        line[name] = json!(value);
    }
    line.to_string()
}
