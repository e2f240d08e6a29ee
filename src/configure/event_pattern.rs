//! EventBridge event patterns, as far as the template's rule uses them: exact values, `prefix`, `wildcard`, nested fields and `$or`.

use serde_json::{Map, Value};

/// A pattern this matcher does not understand (an operator it does not implement).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the event pattern uses {0}, which `configure check` does not evaluate")]
pub struct UnsupportedPattern(pub String);

/// True when `event` matches `pattern` (EventBridge semantics for the supported operators).
pub fn matches(pattern: &Value, event: &Value) -> Result<bool, UnsupportedPattern> {
    let Some(fields) = pattern.as_object() else {
        return Err(UnsupportedPattern("a pattern that is not an object".into()));
    };
    fields_match(fields, event)
}

fn fields_match(fields: &Map<String, Value>, event: &Value) -> Result<bool, UnsupportedPattern> {
    for (key, expected) in fields {
        let matched = if key == "$or" {
            let alternatives = expected
                .as_array()
                .ok_or_else(|| UnsupportedPattern("$or without a list".into()))?;
            let mut any = false;
            for alternative in alternatives {
                any |= matches(alternative, event)?;
            }
            any
        } else {
            let actual = event.get(key).unwrap_or(&Value::Null);
            match expected {
                Value::Object(nested) => fields_match(nested, actual)?,
                Value::Array(allowed) => value_matches(allowed, actual)?,
                other => {
                    return Err(UnsupportedPattern(format!(
                        "the value {other} (not a list)"
                    )));
                }
            }
        };
        if !matched {
            return Ok(false);
        }
    }
    Ok(true)
}

/// True when `actual` (or, for a list, one of its items) is one of `allowed`.
fn value_matches(allowed: &[Value], actual: &Value) -> Result<bool, UnsupportedPattern> {
    if let Value::Array(items) = actual {
        for item in items {
            if value_matches(allowed, item)? {
                return Ok(true);
            }
        }
        return Ok(false);
    }
    for rule in allowed {
        let matched = match rule {
            Value::Object(operator) => operator_matches(operator, actual)?,
            exact => exact == actual,
        };
        if matched {
            return Ok(true);
        }
    }
    Ok(false)
}

fn operator_matches(
    operator: &Map<String, Value>,
    actual: &Value,
) -> Result<bool, UnsupportedPattern> {
    let text = actual.as_str();
    match operator.iter().next() {
        Some((name, Value::String(prefix))) if name == "prefix" => {
            Ok(text.is_some_and(|text| text.starts_with(prefix.as_str())))
        }
        Some((name, Value::String(wildcard))) if name == "wildcard" => {
            Ok(text.is_some_and(|text| wildcard_matches(wildcard, text)))
        }
        Some((name, _)) => Err(UnsupportedPattern(format!("the operator {name:?}"))),
        None => Err(UnsupportedPattern("an empty operator".into())),
    }
}

/// `*` matches any run of characters; everything else itself.
fn wildcard_matches(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || !text[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule() -> Value {
        json!({"$or": [
            {"source": ["com.genesys.interaction"], "detail-type": ["purecloud:v2:interaction:update"]},
            {"source": [{"prefix": "aws.partner/genesys.com"}],
             "detail-type": [{"wildcard": "v2.detail.events.conversation.*.user.end"}]}
        ]})
    }

    #[test]
    fn an_event_matches_one_alternative_of_or() {
        let native = json!({"source": "aws.partner/genesys.com/cloud/o/s",
                            "detail-type": "v2.detail.events.conversation.{id}.user.end"});
        let tutorial = json!({"source": "com.genesys.interaction",
                              "detail-type": "purecloud:v2:interaction:update"});
        assert!(matches(&rule(), &native).unwrap());
        assert!(matches(&rule(), &tutorial).unwrap());
    }

    #[test]
    fn a_topic_the_rule_does_not_name_or_another_source_does_not_match() {
        let other_topic = json!({"source": "aws.partner/genesys.com/cloud/o/s",
                                 "detail-type": "v2.detail.events.conversation.{id}.user.start"});
        let forged = json!({"source": "com.example",
                            "detail-type": "v2.detail.events.conversation.{id}.user.end"});
        assert!(!matches(&rule(), &other_topic).unwrap());
        assert!(!matches(&rule(), &forged).unwrap());
    }

    #[test]
    fn wildcards_match_runs_of_any_characters() {
        assert!(wildcard_matches("a*c*e", "abcde"));
        assert!(wildcard_matches("a*", "a"));
        assert!(!wildcard_matches("a*c", "abd"));
        assert!(!wildcard_matches("abc", "abcd"));
    }

    #[test]
    fn an_operator_it_does_not_know_is_said_not_guessed() {
        let pattern = json!({"source": [{"anything-but": "x"}]});
        assert!(matches(&pattern, &json!({"source": "y"})).is_err());
    }
}
