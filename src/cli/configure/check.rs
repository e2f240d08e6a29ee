//! `configure check`: the projection test of the configured topics, reading the template and sample events.

use super::{Ended, Failure, Terminal};
use crate::cli::say;
use crate::configure::ConfigureError;
use gev_core::domain::integration::parse_spec;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// `configure check`: each topic of `file` through the rule of `template` and the consumer's
/// parser, with sample events from `events_dir` where one has the topic's detail-type. Exit 3
/// when a topic is not delivered or its events are rejected; 0 otherwise (ignored ones warn).
pub fn check(file: &Path, template: &Path, events_dir: &Path, terminal: &mut Terminal<'_>) -> i32 {
    let result = check_topics(file, template, events_dir, terminal);
    super::finish(&result, terminal.err)
}

fn check_topics(
    file: &Path,
    template: &Path,
    events_dir: &Path,
    terminal: &mut Terminal<'_>,
) -> Result<Ended, Failure> {
    use crate::configure::check::{self, Verdict};
    let unusable = |path: &Path| {
        let path = path.to_owned();
        move |source: Box<dyn std::error::Error + Send + Sync>| Failure::Unusable { path, source }
    };
    let text = std::fs::read_to_string(file).map_err(|error| unusable(file)(error.into()))?;
    let spec = parse_spec(&text).map_err(ConfigureError::Invalid)?;
    let pattern = std::fs::read_to_string(template)
        .map_err(|error| unusable(template)(error.into()))
        .and_then(|text| {
            check::rule_pattern(&text).map_err(|error| unusable(template)(error.into()))
        })?;
    let samples = sample_events(events_dir);
    let find = |topic: &str| {
        samples
            .iter()
            .find(|event| event.get("detail-type").and_then(Value::as_str) == Some(topic))
            .cloned()
    };
    let mut failed = false;
    for result in check::check(&spec, &pattern, &find)? {
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
        say(terminal.out, format_args!("{line}"));
    }
    Ok(if failed {
        Ended::ProblemsFound
    } else {
        Ended::Done
    })
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
