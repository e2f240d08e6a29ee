//! The wrap-up policy: which code (or none) each call gets, by queue, media, direction and division; rules tried in order, the first match wins.

use super::conversation::MediaType;
use super::ids::{DispositionCodeId, DivisionId, QueueId};
use serde::Deserialize;
use serde_json::Value;
use std::fmt;

/// What a rule (or the default) does with a matching call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyAction {
    /// Apply `code` (with `notes`, when given).
    Write {
        /// The wrap-up code id.
        code: DispositionCodeId,
        /// Notes sent with it.
        notes: Option<String>,
    },
    /// Decide everything, write nothing: the outcome is `would-patch` with the code.
    Shadow {
        /// The code that would be applied.
        code: DispositionCodeId,
        /// The notes that would be sent.
        notes: Option<String>,
    },
    /// Leave the call alone: `ineligible`, reason `policy-skip`.
    Skip,
}

impl PolicyAction {
    /// The code the action writes or would write.
    pub fn code(&self) -> Option<&DispositionCodeId> {
        match self {
            PolicyAction::Write { code, .. } | PolicyAction::Shadow { code, .. } => Some(code),
            PolicyAction::Skip => None,
        }
    }
}

/// What a rule matches on; a field left out matches anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleMatch {
    /// The participant's queue.
    pub queue_id: Option<QueueId>,
    /// `VOICE`, `CHAT`, ...
    pub media_type: Option<MediaType>,
    /// `INBOUND` or `OUTBOUND`.
    pub direction: Option<String>,
    /// The queue's division.
    pub division_id: Option<DivisionId>,
}

/// One rule: what it matches and what it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRule {
    /// What it matches.
    pub matches: RuleMatch,
    /// What it does.
    pub action: PolicyAction,
}

/// Which rule decided: `rules[i]` or `default`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleName {
    /// The rule at this position (from 0).
    Rule(usize),
    /// The default.
    Default,
}

impl fmt::Display for RuleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleName::Rule(index) => write!(f, "rules[{index}]"),
            RuleName::Default => f.write_str("default"),
        }
    }
}

/// The facts of one call the rules match on; `None` where nothing said.
#[derive(Debug, Clone, Copy)]
pub struct CallFacts<'a> {
    /// The agent participant's queue.
    pub queue_id: Option<&'a QueueId>,
    /// The media.
    pub media_type: &'a MediaType,
    /// The direction, e.g. `INBOUND`.
    pub direction: Option<&'a str>,
    /// The queue's (or the event's) division.
    pub division_id: Option<&'a DivisionId>,
}

/// The rule that decided, and its action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyDecision<'a> {
    /// Which rule.
    pub rule: RuleName,
    /// What it does.
    pub action: &'a PolicyAction,
}

/// The queues on whose calls a policy writes a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WrittenQueues {
    /// Every queue: the default, or a rule that names no queue, writes.
    Every,
    /// Only these queues' calls (in the order their rules come).
    These(Vec<QueueId>),
    /// None: the policy only skips or shadows.
    Nowhere,
}

/// The wrap-up policy (`WRAPUP_POLICY` / `WRAPUP_POLICY_FILE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrapupPolicy {
    /// Tried in order.
    pub rules: Vec<PolicyRule>,
    /// Applies when no rule matches; without it, such a call is skipped.
    pub default: PolicyAction,
}

impl WrapupPolicy {
    /// Today's behaviour without a policy: `code` on every call.
    pub fn single_code(code: DispositionCodeId, notes: Option<String>) -> Self {
        WrapupPolicy {
            rules: Vec::new(),
            default: PolicyAction::Write { code, notes },
        }
    }

    /// The first rule matching `facts`, else the default. A rule naming a field the call's
    /// facts do not carry does not match.
    pub fn decide(&self, facts: CallFacts<'_>) -> PolicyDecision<'_> {
        self.rules
            .iter()
            .enumerate()
            .find(|(_, rule)| rule.matches.accepts(facts))
            .map_or(
                PolicyDecision {
                    rule: RuleName::Default,
                    action: &self.default,
                },
                |(index, rule)| PolicyDecision {
                    rule: RuleName::Rule(index),
                    action: &rule.action,
                },
            )
    }

    /// The queues whose calls may get a code written: where `reconcile` looks for calls whose
    /// events never came. A queue named by a writing rule counts even when an earlier rule
    /// skips it: the consumer decides each call.
    pub fn written_queues(&self) -> WrittenQueues {
        let writes = |action: &PolicyAction| matches!(action, PolicyAction::Write { .. });
        if writes(&self.default) {
            return WrittenQueues::Every;
        }
        let mut queues: Vec<QueueId> = Vec::new();
        for rule in self.rules.iter().filter(|rule| writes(&rule.action)) {
            match &rule.matches.queue_id {
                None => return WrittenQueues::Every,
                Some(queue) if !queues.contains(queue) => queues.push(queue.clone()),
                Some(_) => {}
            }
        }
        if queues.is_empty() {
            WrittenQueues::Nowhere
        } else {
            WrittenQueues::These(queues)
        }
    }

    /// Parses the policy's JSON, naming the field of the first problem.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let raw: RawPolicy = serde_json::from_str(text).map_err(|e| PolicyError {
            field: "(document)".into(),
            problem: e.to_string(),
        })?;
        let rules = raw
            .rules
            .iter()
            .enumerate()
            .map(|(index, rule)| rule.checked(&format!("rules[{index}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let default = match &raw.default {
            Some(default) => {
                let rule = default.checked("default")?;
                if rule.matches != RuleMatch::default() {
                    return Err(PolicyError::at("default", "may not have match fields"));
                }
                rule.action
            }
            None => PolicyAction::Skip,
        };
        Ok(WrapupPolicy { rules, default })
    }
}

/// The policy as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    rules: Vec<RawRule>,
    default: Option<RawRule>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawRule {
    queue_id: Option<Value>,
    media_type: Option<Value>,
    direction: Option<Value>,
    division_id: Option<Value>,
    action: Option<Value>,
    code: Option<Value>,
    notes: Option<Value>,
}

/// The id in `value` (at `{at}.{name}`), parsed by `parse`.
fn id<T>(
    at: &str,
    name: &str,
    value: Option<String>,
    parse: fn(&str) -> Result<T, super::ids::IdError>,
) -> Result<Option<T>, PolicyError> {
    value
        .map(|text| parse(&text))
        .transpose()
        .map_err(|e| PolicyError::at(&format!("{at}.{name}"), &e.to_string()))
}

impl RawRule {
    fn checked(&self, at: &str) -> Result<PolicyRule, PolicyError> {
        let text = |name: &str, value: &Option<Value>| -> Result<Option<String>, PolicyError> {
            match value {
                None => Ok(None),
                Some(Value::String(text)) if !text.trim().is_empty() => Ok(Some(text.clone())),
                Some(_) => Err(PolicyError::at(
                    &format!("{at}.{name}"),
                    "must be a non-empty string",
                )),
            }
        };
        let direction = match text("direction", &self.direction)? {
            Some(direction) => {
                let upper = direction.to_ascii_uppercase();
                if !matches!(upper.as_str(), "INBOUND" | "OUTBOUND") {
                    return Err(PolicyError::at(
                        &format!("{at}.direction"),
                        "must be INBOUND or OUTBOUND",
                    ));
                }
                Some(upper)
            }
            None => None,
        };
        let matches = RuleMatch {
            queue_id: id(
                at,
                "queueId",
                text("queueId", &self.queue_id)?,
                QueueId::parse,
            )?,
            media_type: text("mediaType", &self.media_type)?.map(|m| MediaType::new(&m)),
            direction,
            division_id: id(
                at,
                "divisionId",
                text("divisionId", &self.division_id)?,
                DivisionId::parse,
            )?,
        };
        let code = id(
            at,
            "code",
            text("code", &self.code)?,
            DispositionCodeId::parse,
        )?;
        let notes = text("notes", &self.notes)?;
        let action = match (text("action", &self.action)?.as_deref(), code) {
            (None | Some("write"), Some(code)) => PolicyAction::Write { code, notes },
            (Some("shadow"), Some(code)) => PolicyAction::Shadow { code, notes },
            (Some("skip"), None) => PolicyAction::Skip,
            (Some("skip"), Some(_)) => {
                return Err(PolicyError::at(
                    &format!("{at}.code"),
                    "a skip rule has no code",
                ));
            }
            (None | Some("write" | "shadow"), None) => {
                return Err(PolicyError::at(
                    &format!("{at}.code"),
                    "is required (the wrap-up code id to apply)",
                ));
            }
            (Some(other), _) => {
                return Err(PolicyError::at(
                    &format!("{at}.action"),
                    &format!("{other:?} is not one of write, shadow, skip"),
                ));
            }
        };
        Ok(PolicyRule { matches, action })
    }
}

impl RuleMatch {
    fn accepts(&self, facts: CallFacts<'_>) -> bool {
        fn field<T: PartialEq + ?Sized>(wanted: Option<&T>, actual: Option<&T>) -> bool {
            wanted.is_none_or(|wanted| actual == Some(wanted))
        }
        field(self.queue_id.as_ref(), facts.queue_id)
            && field(self.media_type.as_ref(), Some(facts.media_type))
            && field(
                self.direction.as_deref(),
                facts.direction.map(str::to_ascii_uppercase).as_deref(),
            )
            && field(self.division_id.as_ref(), facts.division_id)
    }
}

/// A policy that cannot be used, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct PolicyError {
    /// Where, e.g. `rules[2].code`.
    pub(crate) field: String,
    /// What is wrong.
    pub(crate) problem: String,
}

impl PolicyError {
    fn at(field: &str, problem: &str) -> Self {
        PolicyError {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"{
        "rules": [
            {"queueId": "q-sales", "mediaType": "VOICE", "direction": "INBOUND", "code": "c-sales", "notes": "auto"},
            {"queueId": "q-vip", "action": "skip"},
            {"queueId": "q-new", "action": "shadow", "code": "c-new"},
            {"divisionId": "d-emea", "code": "c-emea"}
        ],
        "default": {"code": "c-any"}
    }"#;

    fn facts<'a>(queue: &'a QueueId, media: &'a MediaType) -> CallFacts<'a> {
        CallFacts {
            queue_id: Some(queue),
            media_type: media,
            direction: Some("inbound"),
            division_id: None,
        }
    }

    #[test]
    fn a_policy_writes_on_every_queue_when_its_default_or_a_queueless_rule_writes() {
        let queue_rules_only = WrapupPolicy::parse(
            r#"{"rules": [{"queueId": "q-a", "code": "c"}, {"queueId": "q-b", "action": "skip"},
                          {"queueId": "q-c", "action": "shadow", "code": "c"}, {"queueId": "q-a", "code": "d"}]}"#,
        )
        .unwrap();
        let shadow_only =
            WrapupPolicy::parse(r#"{"default": {"action": "shadow", "code": "c"}}"#).unwrap();

        assert_eq!(
            WrapupPolicy::parse(POLICY).unwrap().written_queues(),
            WrittenQueues::Every
        );
        assert_eq!(
            queue_rules_only.written_queues(),
            WrittenQueues::These(vec![QueueId::parse("q-a").unwrap()])
        );
        assert_eq!(shadow_only.written_queues(), WrittenQueues::Nowhere);
    }

    #[test]
    fn the_first_matching_rule_decides_and_names_itself() {
        let policy = WrapupPolicy::parse(POLICY).unwrap();
        let (sales, vip, other) = (
            QueueId::parse("q-sales").unwrap(),
            QueueId::parse("q-vip").unwrap(),
            QueueId::parse("q-other").unwrap(),
        );
        let voice = MediaType::voice();

        let on_sales = policy.decide(facts(&sales, &voice));
        let on_vip = policy.decide(facts(&vip, &voice));
        let elsewhere = policy.decide(facts(&other, &voice));

        assert_eq!(on_sales.rule.to_string(), "rules[0]");
        assert_eq!(on_sales.action.code().unwrap().as_str(), "c-sales");
        assert_eq!(on_vip.action, &PolicyAction::Skip);
        assert_eq!(elsewhere.rule, RuleName::Default);
        assert_eq!(elsewhere.action.code().unwrap().as_str(), "c-any");
    }

    #[test]
    fn a_rule_naming_a_fact_the_call_does_not_carry_does_not_match() {
        let policy = WrapupPolicy::parse(POLICY).unwrap();
        let other = QueueId::parse("q-other").unwrap();
        let voice = MediaType::voice();
        let emea = DivisionId::parse("d-emea").unwrap();

        let unknown_division = policy.decide(facts(&other, &voice));
        let in_emea = policy.decide(CallFacts {
            division_id: Some(&emea),
            ..facts(&other, &voice)
        });

        assert_eq!(unknown_division.rule, RuleName::Default);
        assert_eq!(in_emea.rule, RuleName::Rule(3));
    }

    #[test]
    fn without_a_default_an_unmatched_call_is_skipped() {
        let policy = WrapupPolicy::parse(r#"{"rules": [{"queueId": "q", "code": "c"}]}"#).unwrap();
        let other = QueueId::parse("q-2").unwrap();
        let voice = MediaType::voice();

        assert_eq!(
            policy.decide(facts(&other, &voice)).action,
            &PolicyAction::Skip
        );
    }

    #[test]
    fn an_invalid_policy_names_the_field() {
        let cases = [
            (r#"{"rules": [{"queueId": "q"}]}"#, "rules[0].code"),
            (
                r#"{"rules": [{"queueId": "q", "action": "skip", "code": "c"}]}"#,
                "rules[0].code",
            ),
            (
                r#"{"rules": [{"code": "c"}, {"queueId": 7, "code": "c"}]}"#,
                "rules[1].queueId",
            ),
            (
                r#"{"rules": [{"queueId": "a/b", "code": "c"}]}"#,
                "rules[0].queueId",
            ),
            (
                r#"{"rules": [{"direction": "SIDEWAYS", "code": "c"}]}"#,
                "rules[0].direction",
            ),
            (
                r#"{"rules": [{"action": "maybe", "code": "c"}]}"#,
                "rules[0].action",
            ),
            (r#"{"default": {"queueId": "q", "code": "c"}}"#, "default"),
            (r#"{"rules": [], "defaults": {}}"#, "(document)"),
        ];
        for (text, field) in cases {
            let error = WrapupPolicy::parse(text).unwrap_err();
            assert_eq!(error.field, field, "{text}: {error}");
        }
    }
}
