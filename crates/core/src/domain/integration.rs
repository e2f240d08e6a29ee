//! The Genesys EventBridge integration as code: its desired state (checked field by field) and the plan from the current one.

use serde::Serialize;
use serde_json::{Map, Value};

/// The integration type of the Genesys "Amazon EventBridge Source".
pub const INTEGRATION_TYPE: &str = "amazon-eventbridge-source";

/// What Genesys returns for empty notes.
const EMPTY_NOTES: &str = "node_dynamodb_empty_string";

/// The desired integration, as the `--file` JSON says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationSpec {
    /// Pins one integration; otherwise the one of this type with this `name`.
    pub integration_id: Option<String>,
    /// The integration's name.
    pub name: String,
    /// The AWS account that receives the events (12 digits).
    pub aws_account_id: String,
    /// The AWS region of the partner event source, e.g. `eu-west-1`.
    pub aws_region: String,
    /// The suffix of the partner event source's name.
    pub event_source_suffix: String,
    /// Whether the integration should be enabled.
    pub enabled: bool,
    /// Free text.
    pub notes: String,
    /// The topics sent to EventBridge, in the file's order.
    pub topics: Vec<String>,
}

/// One problem of the desired state, naming its field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpecProblem {
    /// The field, e.g. `awsAccountId` or `topics[2]`.
    pub field: String,
    /// What is wrong with it.
    pub problem: String,
}

impl SpecProblem {
    fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        SpecProblem {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

const FIELDS: [&str; 8] = [
    "integrationId",
    "name",
    "awsAccountId",
    "awsRegion",
    "eventSourceSuffix",
    "enabled",
    "notes",
    "topics",
];

/// Reads and checks the desired state; every problem is reported at once, each naming its field.
pub fn parse_spec(text: &str) -> Result<IntegrationSpec, Vec<SpecProblem>> {
    let value: Value = serde_json::from_str(text).map_err(|error| {
        vec![SpecProblem::new(
            "(file)",
            format!("not valid JSON: {error}"),
        )]
    })?;
    let Some(object) = value.as_object() else {
        return Err(vec![SpecProblem::new("(file)", "must be a JSON object")]);
    };
    let mut problems: Vec<SpecProblem> = object
        .keys()
        .filter(|key| !FIELDS.contains(&key.as_str()))
        .map(|key| SpecProblem::new(key.clone(), "is not a known field"))
        .collect();
    let mut text_field = |name: &str, required: bool| match object.get(name) {
        Some(Value::String(text)) => Some(text.clone()),
        None | Some(Value::Null) if !required => None,
        None | Some(Value::Null) => {
            problems.push(SpecProblem::new(name, "is missing"));
            None
        }
        Some(_) => {
            problems.push(SpecProblem::new(name, "must be a string"));
            None
        }
    };
    let integration_id = text_field("integrationId", false);
    let name = text_field("name", true).unwrap_or_default();
    let aws_account_id = text_field("awsAccountId", true).unwrap_or_default();
    let aws_region = text_field("awsRegion", true).unwrap_or_default();
    let event_source_suffix = text_field("eventSourceSuffix", true).unwrap_or_default();
    let notes = text_field("notes", false).unwrap_or_default();
    let enabled = match object.get("enabled") {
        None => true,
        Some(Value::Bool(enabled)) => *enabled,
        Some(_) => {
            problems.push(SpecProblem::new("enabled", "must be true or false"));
            true
        }
    };
    let topics = topics_of(object, &mut problems);
    check_values(
        &name,
        &aws_account_id,
        &aws_region,
        &event_source_suffix,
        &mut problems,
    );
    if problems.is_empty() {
        Ok(IntegrationSpec {
            integration_id,
            name,
            aws_account_id,
            aws_region,
            event_source_suffix,
            enabled,
            notes,
            topics,
        })
    } else {
        Err(problems)
    }
}

/// `topics`: a non-empty list of unique, non-empty strings.
fn topics_of(object: &Map<String, Value>, problems: &mut Vec<SpecProblem>) -> Vec<String> {
    let Some(list) = object.get("topics").and_then(Value::as_array) else {
        problems.push(SpecProblem::new("topics", "must be a list of topic names"));
        return Vec::new();
    };
    if list.is_empty() {
        problems.push(SpecProblem::new("topics", "names no topic"));
    }
    let mut topics: Vec<String> = Vec::new();
    for (index, topic) in list.iter().enumerate() {
        let field = format!("topics[{index}]");
        match topic.as_str().map(str::trim) {
            Some("") | None => problems.push(SpecProblem::new(field, "must be a topic name")),
            Some(topic) if topics.iter().any(|seen| seen == topic) => {
                problems.push(SpecProblem::new(field, format!("repeats {topic:?}")));
            }
            Some(topic) => topics.push(topic.to_owned()),
        }
    }
    topics
}

/// The rules Genesys applies to the properties, checked before any request.
fn check_values(
    name: &str,
    account: &str,
    region: &str,
    suffix: &str,
    problems: &mut Vec<SpecProblem>,
) {
    if name.trim().is_empty() && !problems.iter().any(|p| p.field == "name") {
        problems.push(SpecProblem::new("name", "is empty"));
    }
    let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    if !account.is_empty() && !account_ok {
        problems.push(SpecProblem::new(
            "awsAccountId",
            format!("{account:?} is not a 12-digit AWS account id"),
        ));
    }
    if !region.is_empty() && !is_aws_region(region) {
        problems.push(SpecProblem::new(
            "awsRegion",
            format!("{region:?} is not an AWS region name such as eu-west-1"),
        ));
    }
    let suffix_ok = suffix.len() <= 64
        && suffix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !suffix.is_empty() && !suffix_ok {
        problems.push(SpecProblem::new(
            "eventSourceSuffix",
            "must be at most 64 of letters, digits, '.', '_' and '-'",
        ));
    }
}

/// `xx-name-N` or `xx-name-name-N` (e.g. `eu-west-1`, `us-gov-east-1`, `ap-southeast-2`).
fn is_aws_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let letters = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase());
    (3..=4).contains(&parts.len())
        && parts[0].len() == 2
        && parts[..parts.len() - 1].iter().all(|part| letters(part))
        && parts[parts.len() - 1]
            .parse::<u8>()
            .is_ok_and(|number| number >= 1)
}

/// The integration as Genesys has it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentIntegration {
    /// Its id.
    pub id: String,
    /// The configuration's name.
    pub name: String,
    /// The configuration's version: a write must name it.
    pub version: i64,
    /// `properties.awsAccountId`.
    pub aws_account_id: String,
    /// `properties.awsAccountRegion`.
    pub aws_region: String,
    /// `properties.eventSourceSuffix`.
    pub event_source_suffix: String,
    /// `properties.eventFilter`.
    pub topics: Vec<String>,
    /// The configuration's notes (`node_dynamodb_empty_string` read as empty).
    pub notes: String,
    /// `intendedState` is `ENABLED`.
    pub enabled: bool,
    /// `reportedState.code`, e.g. `ACTIVE`.
    pub reported_state: String,
}

/// Notes as Genesys returns them, read as the user wrote them.
pub fn normalise_notes(notes: Option<&str>) -> String {
    match notes {
        Some(EMPTY_NOTES) | None => String::new(),
        Some(notes) => notes.to_owned(),
    }
}

/// What applying the plan does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// There is no such integration: create it.
    Create,
    /// It exists and differs.
    Update,
    /// It exists as desired.
    None,
}

/// One field that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The field, e.g. `name` or `topics`.
    pub field: String,
    /// Its current value (`null` when creating).
    pub from: Value,
    /// Its desired value.
    pub to: Value,
}

/// What `apply` would do, and against which version of the integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Create, update or nothing.
    pub action: Action,
    /// The integration, when it exists.
    pub integration_id: Option<String>,
    /// The configuration version the plan was made from.
    pub version: Option<i64>,
    /// The fields that differ.
    pub changes: Vec<Change>,
}

impl Plan {
    /// True when applying it changes something.
    pub fn has_changes(&self) -> bool {
        self.action != Action::None
    }
}

/// The plan that takes `current` (none: the integration does not exist) to `spec`.
pub fn plan(spec: &IntegrationSpec, current: Option<&CurrentIntegration>) -> Plan {
    let mut changes = Vec::new();
    let mut compare = |field: &str, from: Option<Value>, to: Value| {
        if from.as_ref() != Some(&to) {
            changes.push(Change {
                field: field.to_owned(),
                from: from.unwrap_or(Value::Null),
                to,
            });
        }
    };
    let text = |value: &str| Value::String(value.to_owned());
    compare("name", current.map(|c| text(&c.name)), text(&spec.name));
    compare(
        "awsAccountId",
        current.map(|c| text(&c.aws_account_id)),
        text(&spec.aws_account_id),
    );
    compare(
        "awsRegion",
        current.map(|c| text(&c.aws_region)),
        text(&spec.aws_region),
    );
    compare(
        "eventSourceSuffix",
        current.map(|c| text(&c.event_source_suffix)),
        text(&spec.event_source_suffix),
    );
    let mut desired_topics = spec.topics.clone();
    desired_topics.sort();
    let current_topics = current.map(|c| {
        let mut topics = c.topics.clone();
        topics.sort();
        Value::from(topics)
    });
    compare("topics", current_topics, Value::from(desired_topics));
    compare("notes", current.map(|c| text(&c.notes)), text(&spec.notes));
    compare(
        "enabled",
        current.map(|c| Value::Bool(c.enabled)),
        Value::Bool(spec.enabled),
    );
    let action = match (current, changes.is_empty()) {
        (None, _) => Action::Create,
        (Some(_), true) => Action::None,
        (Some(_), false) => Action::Update,
    };
    Plan {
        action,
        integration_id: current.map(|c| c.id.clone()),
        version: current.map(|c| c.version),
        changes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec_json() -> Value {
        json!({"name": "Genesys to EventBridge", "awsAccountId": "123456789012",
               "awsRegion": "eu-west-1", "eventSourceSuffix": "dispositions", "enabled": true,
               "notes": "", "topics": ["v2.detail.events.conversation.{id}.user.end"]})
    }

    fn current(spec: &IntegrationSpec) -> CurrentIntegration {
        CurrentIntegration {
            id: "i-1".into(),
            name: spec.name.clone(),
            version: 3,
            aws_account_id: spec.aws_account_id.clone(),
            aws_region: spec.aws_region.clone(),
            event_source_suffix: spec.event_source_suffix.clone(),
            topics: spec.topics.clone(),
            notes: spec.notes.clone(),
            enabled: spec.enabled,
            reported_state: "ACTIVE".into(),
        }
    }

    #[test]
    fn a_valid_file_gives_its_spec() {
        let spec = parse_spec(&spec_json().to_string()).unwrap();
        assert_eq!(spec.aws_account_id, "123456789012");
        assert!(spec.enabled);
    }

    #[test]
    fn every_problem_is_reported_at_once_naming_its_field() {
        let bad = json!({"name": "x", "awsAccountId": "1234", "awsRegion": "Ireland",
                         "eventSourceSuffix": "has space", "topics": ["a", "a", ""], "colour": "red"});

        let problems = parse_spec(&bad.to_string()).unwrap_err();

        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "colour",
                "topics[1]",
                "topics[2]",
                "awsAccountId",
                "awsRegion",
                "eventSourceSuffix"
            ]
        );
    }

    #[test]
    fn aws_region_names_are_recognised() {
        for region in [
            "eu-west-1",
            "us-gov-east-1",
            "ap-southeast-2",
            "me-central-1",
        ] {
            assert!(is_aws_region(region), "{region}");
        }
        for region in ["eu_west_1", "EU-WEST-1", "euwest1", "eu-west", "eu-west-0"] {
            assert!(!is_aws_region(region), "{region}");
        }
    }

    #[test]
    fn a_missing_integration_is_created() {
        let spec = parse_spec(&spec_json().to_string()).unwrap();
        let plan = plan(&spec, None);
        assert_eq!(plan.action, Action::Create);
        assert_eq!(plan.changes.len(), 7);
    }

    #[test]
    fn an_integration_as_desired_needs_nothing_whatever_the_topic_order() {
        let mut spec = parse_spec(&spec_json().to_string()).unwrap();
        spec.topics
            .push("v2.detail.events.conversation.{id}.acw".into());
        let mut now = current(&spec);
        now.topics.reverse();

        assert_eq!(plan(&spec, Some(&now)).action, Action::None);
    }

    #[test]
    fn a_topic_added_and_notes_changed_are_an_update_against_the_read_version() {
        let spec = parse_spec(&spec_json().to_string()).unwrap();
        let mut now = current(&spec);
        now.topics = vec!["v2.detail.events.conversation.{id}.acw".into()];
        now.notes = "old".into();

        let plan = plan(&spec, Some(&now));

        assert_eq!(plan.action, Action::Update);
        assert_eq!(plan.version, Some(3));
        let fields: Vec<&str> = plan.changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["topics", "notes"]);
    }

    #[test]
    fn genesys_empty_notes_read_as_empty() {
        assert_eq!(normalise_notes(Some("node_dynamodb_empty_string")), "");
        assert_eq!(normalise_notes(Some("n")), "n");
    }
}
