//! `configure check`: the projection test of the configured topics, reading the template and sample events.

use super::Terminal;
use crate::configure::ConfigureError;
use gev_core::domain::integration::parse_spec;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// `configure check`: each topic of `file` through the rule of `template` and the consumer's
/// parser, with sample events from `events_dir` where one has the topic's detail-type. Exit 3
/// when a topic is not delivered or its events are rejected; 0 otherwise (ignored ones warn).
pub fn check(file: &Path, template: &Path, events_dir: &Path, terminal: &mut Terminal<'_>) -> i32 {
    use crate::configure::check::{self, Verdict};
    let spec = match std::fs::read_to_string(file).map(|text| parse_spec(&text)) {
        Ok(Ok(spec)) => spec,
        Ok(Err(problems)) => {
            let error = ConfigureError::Invalid(problems);
            let _ = writeln!(terminal.err, "configure: {}", gev_core::error_chain(&error));
            return 2;
        }
        Err(error) => {
            let _ = writeln!(terminal.err, "configure: {}: {error}", file.display());
            return 2;
        }
    };
    let pattern = match std::fs::read_to_string(template)
        .map_err(|error| error.to_string())
        .and_then(|text| check::rule_pattern(&text).map_err(|error| gev_core::error_chain(&error)))
    {
        Ok(pattern) => pattern,
        Err(problem) => {
            let _ = writeln!(terminal.err, "configure: {}: {problem}", template.display());
            return 2;
        }
    };
    let samples = sample_events(events_dir);
    let find = |topic: &str| {
        samples
            .iter()
            .find(|event| event.get("detail-type").and_then(Value::as_str) == Some(topic))
            .cloned()
    };
    let checks = match check::check(&spec, &pattern, &find) {
        Ok(checks) => checks,
        Err(error) => {
            let _ = writeln!(terminal.err, "configure: {error}");
            return 2;
        }
    };
    let mut failed = false;
    for result in checks {
        let line = match &result.verdict {
            Verdict::Acts => format!(
                "ok    {}: delivered by {}, the consumer acts on it",
                result.topic,
                check::RULE
            ),
            Verdict::Ignored(why) => format!(
                "warn  {}: delivered, but the consumer ignores it: {why}",
                result.topic
            ),
            Verdict::Rejected(why) => {
                failed = true;
                format!(
                    "error {}: delivered, but the consumer rejects it: {why}",
                    result.topic
                )
            }
            Verdict::NotMatched => {
                failed = true;
                format!(
                    "error {}: the rule {} does not deliver it",
                    result.topic,
                    check::RULE
                )
            }
        };
        let _ = writeln!(terminal.out, "{line}");
    }
    if failed { 3 } else { 0 }
}

/// The events of the JSON files in `dir` (those that parse), for samples.
fn sample_events(dir: &Path) -> Vec<Value> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .filter_map(|text| serde_json::from_str(&text).ok())
        .collect()
}
