//! How configure prints: the plan in a readable form, and the integration's status.

use crate::cli::say;
use crate::configure::Found;
use gev_core::domain::integration::{Action, IntegrationSpec, Plan};
use serde_json::Value;
use std::io::Write;

pub(super) fn print_status(found: &Found, out: &mut dyn Write) {
    let current = found.current();
    say(
        out,
        format_args!(
            "integration {:?} ({}): {}, reported {}, configuration version {}",
            current.name,
            current.id,
            if current.enabled {
                "enabled"
            } else {
                "disabled"
            },
            current.reported_state,
            current.version
        ),
    );
    for topic in &current.topics {
        say(out, format_args!("  topic {topic}"));
    }
}

/// The plan in a readable form: one line per change, topics as `+`/`-` lines.
pub(super) fn print_plan(spec: &IntegrationSpec, plan: &Plan, out: &mut dyn Write) {
    let name = &spec.name;
    match (&plan.action, &plan.integration_id, plan.version) {
        (Action::Create, _, _) => say(out, format_args!("integration {name:?}: create")),
        (Action::Update, Some(id), Some(v)) => say(
            out,
            format_args!("integration {name:?} ({id}, version {v}): update"),
        ),
        (_, Some(id), Some(v)) => say(
            out,
            format_args!("integration {name:?} ({id}, version {v}): no changes"),
        ),
        _ => say(out, format_args!("integration {name:?}: no changes")),
    }
    for change in &plan.changes {
        if change.field == "topics" {
            let list = |value: &Value| -> Vec<String> {
                value
                    .as_array()
                    .map(|items| {
                        items
                            .iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let (from, to) = (list(&change.from), list(&change.to));
            for topic in to.iter().filter(|topic| !from.contains(topic)) {
                say(out, format_args!("  + topic {topic}"));
            }
            for topic in from.iter().filter(|topic| !to.contains(topic)) {
                say(out, format_args!("  - topic {topic}"));
            }
        } else {
            say(
                out,
                format_args!("  ~ {}: {} -> {}", change.field, change.from, change.to),
            );
        }
    }
}
