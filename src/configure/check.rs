//! `configure check`, the projection test: each configured topic's sample event through the template's rule pattern and the consumer's parser.

use super::event_pattern::{self, UnsupportedPattern};
use crate::eventbridge::partner_source_name;
use gev_core::domain::ParsedEvent;
use gev_core::domain::integration::IntegrationSpec;
use serde_json::{Value, json};

/// The logical id of the consumer's rule in `template.yaml`.
pub const RULE: &str = "GenesysEventsRule";

/// A template that `check` cannot read.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// Not YAML.
    #[error("the template is not YAML")]
    Yaml(#[source] serde_yaml::Error),
    /// No rule, or no pattern.
    #[error("the template has no {0}")]
    Missing(String),
}

/// The event pattern of the consumer's rule in a SAM/CloudFormation template, with each
/// `!Ref` to a parameter replaced by the parameter's default (a list for `CommaDelimitedList`).
pub fn rule_pattern(template: &str) -> Result<Value, TemplateError> {
    let yaml: serde_yaml::Value = serde_yaml::from_str(template).map_err(TemplateError::Yaml)?;
    let parameters = yaml.get("Parameters").cloned().unwrap_or_default();
    let pattern = yaml
        .get("Resources")
        .and_then(|resources| resources.get(RULE))
        .and_then(|rule| rule.get("Properties"))
        .and_then(|properties| properties.get("EventPattern"))
        .ok_or_else(|| TemplateError::Missing(format!("{RULE}.Properties.EventPattern")))?;
    Ok(resolved(pattern, &parameters))
}

/// `value` as JSON, with `!Ref Parameter` replaced by the parameter's default.
fn resolved(value: &serde_yaml::Value, parameters: &serde_yaml::Value) -> Value {
    use serde_yaml::Value as Yaml;
    match value {
        Yaml::Tagged(tagged) if tagged.tag == "Ref" || tagged.tag == "!Ref" => {
            let name = tagged.value.as_str().unwrap_or_default();
            let parameter = parameters.get(name).cloned().unwrap_or_default();
            let default = parameter
                .get("Default")
                .and_then(Yaml::as_str)
                .unwrap_or_default();
            if parameter.get("Type").and_then(Yaml::as_str) == Some("CommaDelimitedList") {
                json!(default.split(',').map(str::trim).collect::<Vec<_>>())
            } else {
                json!(default)
            }
        }
        Yaml::Tagged(tagged) => resolved(&tagged.value, parameters),
        Yaml::Mapping(mapping) => Value::Object(
            mapping
                .iter()
                .map(|(key, value)| {
                    let key = key
                        .as_str()
                        .map_or_else(|| format!("{key:?}"), str::to_owned);
                    (key, resolved(value, parameters))
                })
                .collect(),
        ),
        Yaml::Sequence(items) => Value::Array(
            items
                .iter()
                .map(|item| resolved(item, parameters))
                .collect(),
        ),
        Yaml::String(text) => json!(text),
        Yaml::Bool(flag) => json!(flag),
        Yaml::Number(number) => serde_json::to_value(number).unwrap_or(Value::Null),
        Yaml::Null => Value::Null,
    }
}

/// What the pipeline would make of one topic's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The rule delivers them and the consumer acts on them.
    Acts,
    /// The rule delivers them; the consumer ignores them (why). A warning.
    Ignored(String),
    /// The rule delivers them; the consumer rejects them (why). An error.
    Rejected(String),
    /// The rule does not deliver them. An error.
    NotMatched,
}

/// One topic's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicCheck {
    /// The topic template.
    pub topic: String,
    /// What happens to its events.
    pub verdict: Verdict,
}

/// A sample event of `topic` in the EventBridge envelope Genesys uses: `sample` when one is
/// given (from `events/`), else a minimal one built from the topic template.
pub fn sample_event(spec: &IntegrationSpec, topic: &str) -> Value {
    let conversation = "00000000-0000-4000-8000-000000000001";
    let source = partner_source_name(
        "00000000-0000-4000-8000-000000000000",
        &spec.event_source_suffix,
    );
    json!({
        "version": "0",
        "id": "00000000-0000-4000-8000-0000000000e1",
        "detail-type": topic,
        "source": source,
        "account": spec.aws_account_id,
        "time": "2026-01-01T00:00:00Z",
        "region": spec.aws_region,
        "resources": [],
        "detail": {
            "topicName": topic.replace("{id}", conversation),
            "version": "2",
            "eventBody": {
                "conversationId": conversation,
                "participantId": "00000000-0000-4000-8000-0000000000a1",
                "mediaType": "VOICE",
                "eventTime": 1_767_225_600_000_i64
            },
            "metadata": {"CorrelationId": "00000000-0000-4000-8000-0000000000c1"},
            "timestamp": "2026-01-01T00:00:00.000Z"
        }
    })
}

/// Checks each topic's sample through `pattern` and the consumer's parser.
pub fn check(
    spec: &IntegrationSpec,
    pattern: &Value,
    samples: &dyn Fn(&str) -> Option<Value>,
) -> Result<Vec<TopicCheck>, UnsupportedPattern> {
    let mut checks = Vec::new();
    for topic in &spec.topics {
        let event = samples(topic).unwrap_or_else(|| sample_event(spec, topic));
        let verdict = if event_pattern::matches(pattern, &event)? {
            match gev_core::parse::parse_event(&event) {
                ParsedEvent::Update(_) | ParsedEvent::Conversation(_) => Verdict::Acts,
                ParsedEvent::Ignored { reason } => Verdict::Ignored(reason),
                ParsedEvent::Rejected { reason, .. } => Verdict::Rejected(reason),
            }
        } else {
            Verdict::NotMatched
        };
        checks.push(TopicCheck {
            topic: topic.clone(),
            verdict,
        });
    }
    Ok(checks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gev_core::domain::integration::parse_spec;

    const TEMPLATE: &str = include_str!("../../template.yaml");

    fn spec(topics: &[&str]) -> IntegrationSpec {
        parse_spec(
            &json!({"name": "n", "awsAccountId": "123456789012", "awsRegion": "eu-west-1",
                    "eventSourceSuffix": "s", "topics": topics})
            .to_string(),
        )
        .unwrap()
    }

    #[test]
    fn the_templates_rule_pattern_is_read_with_its_parameter_defaults() {
        let pattern = rule_pattern(TEMPLATE).unwrap();
        assert_eq!(
            pattern["$or"][0]["source"],
            json!(["com.genesys.interaction"])
        );
    }

    #[test]
    fn the_topics_the_consumer_handles_are_delivered_and_acted_on() {
        let pattern = rule_pattern(TEMPLATE).unwrap();
        let spec = spec(&[
            "v2.detail.events.conversation.{id}.user.end",
            "v2.detail.events.conversation.{id}.customer.end",
            "v2.detail.events.conversation.{id}.acw",
        ]);

        let checks = check(&spec, &pattern, &|_| None).unwrap();

        assert!(
            checks.iter().all(|c| c.verdict == Verdict::Acts),
            "{checks:?}"
        );
    }

    #[test]
    fn a_topic_the_rule_does_not_deliver_fails_the_check() {
        let pattern = rule_pattern(TEMPLATE).unwrap();
        let spec = spec(&["v2.detail.events.conversation.{id}.acd.end"]);

        let checks = check(&spec, &pattern, &|_| None).unwrap();

        assert_eq!(checks[0].verdict, Verdict::NotMatched);
    }
}
