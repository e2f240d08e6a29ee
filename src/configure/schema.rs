//! Checks the integration's properties against the JSON Schema Genesys serves for its type (the keywords such schemas use: type, required, properties, items, pattern, lengths, enum).

use gev_core::domain::integration::SpecProblem;
use serde_json::{Map, Value};

/// The desired state's field of a configuration property, for problems that name it.
fn spec_field(property: &str) -> String {
    match property {
        "awsAccountRegion" => "awsRegion".into(),
        "eventFilter" => "topics".into(),
        other => other.into(),
    }
}

/// The problems of `properties` under `schema`, each naming the desired state's field.
pub(super) fn problems(schema: &Value, properties: &Value) -> Vec<SpecProblem> {
    let mut found = Vec::new();
    check(schema, properties, "", &mut found);
    found
}

fn check(schema: &Value, value: &Value, path: &str, found: &mut Vec<SpecProblem>) {
    let Some(rules) = schema.as_object() else {
        return;
    };
    let field = || {
        let mut parts = path.splitn(2, '.');
        let head = spec_field(parts.next().unwrap_or_default());
        match parts.next() {
            Some(rest) => format!("{head}.{rest}"),
            None => head,
        }
    };
    let mut problem = |text: String| {
        found.push(SpecProblem {
            field: field(),
            problem: text,
        });
    };
    if let Some(expected) = rules.get("type").and_then(Value::as_str)
        && !has_type(value, expected)
    {
        problem(format!("must be of type {expected}"));
        return;
    }
    if let Some(allowed) = rules.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        problem(format!("must be one of {}", Value::Array(allowed.clone())));
    }
    if let Some(text) = value.as_str() {
        check_text(rules, text, &mut problem);
    }
    if let Some(items) = value.as_array() {
        let count = items.len();
        if let Some(min) = rules.get("minItems").and_then(Value::as_u64)
            && (count as u64) < min
        {
            problem(format!("needs at least {min} item(s)"));
        }
        if let Some(max) = rules.get("maxItems").and_then(Value::as_u64)
            && (count as u64) > max
        {
            problem(format!("allows at most {max} item(s)"));
        }
        if let Some(item_schema) = rules.get("items") {
            for (index, item) in items.iter().enumerate() {
                check(item_schema, item, &format!("{path}[{index}]"), found);
            }
        }
    }
    if let Some(object) = value.as_object() {
        check_object(rules, object, path, found);
    }
}

fn check_text(rules: &Map<String, Value>, text: &str, problem: &mut impl FnMut(String)) {
    let length = text.chars().count() as u64;
    if let Some(min) = rules.get("minLength").and_then(Value::as_u64)
        && length < min
    {
        problem(format!("must be at least {min} characters long"));
    }
    if let Some(max) = rules.get("maxLength").and_then(Value::as_u64)
        && length > max
    {
        problem(format!("must be at most {max} characters long"));
    }
    if let Some(pattern) = rules.get("pattern").and_then(Value::as_str) {
        match regex_lite::Regex::new(pattern) {
            Ok(regex) if !regex.is_match(text) => {
                problem(format!("{text:?} does not match the pattern {pattern}"));
            }
            Ok(_) => {}
            Err(_) => problem(format!(
                "cannot be checked: the schema's pattern {pattern:?} is not a regular expression"
            )),
        }
    }
}

fn check_object(
    rules: &Map<String, Value>,
    object: &Map<String, Value>,
    path: &str,
    found: &mut Vec<SpecProblem>,
) {
    let join = |name: &str| {
        if path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    for required in rules
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(name) = required.as_str()
            && !object.contains_key(name)
        {
            found.push(SpecProblem {
                field: spec_field(&join(name)),
                problem: "is required by the integration type's schema".into(),
            });
        }
    }
    if let Some(properties) = rules.get("properties").and_then(Value::as_object) {
        for (name, property_schema) in properties {
            if let Some(value) = object.get(name) {
                check(property_schema, value, &join(name), found);
            }
        }
    }
}

fn has_type(value: &Value, expected: &str) -> bool {
    match expected {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "null" => value.is_null(),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "required": ["awsAccountId", "eventFilter"],
               "properties": {
                   "awsAccountId": {"type": "string", "pattern": "^[0-9]{12}$"},
                   "eventSourceSuffix": {"type": "string", "maxLength": 5},
                   "eventFilter": {"type": "array", "minItems": 1, "items": {"type": "string"}}}})
    }

    #[test]
    fn properties_that_satisfy_the_schema_have_no_problem() {
        let properties = json!({"awsAccountId": "123456789012", "eventFilter": ["t"]});
        assert!(problems(&schema(), &properties).is_empty());
    }

    #[test]
    fn each_violation_names_the_desired_states_field() {
        let properties = json!({"awsAccountId": "12", "eventSourceSuffix": "too-long",
                                "eventFilter": []});

        let found = problems(&schema(), &properties);

        let fields: Vec<&str> = found.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["awsAccountId", "topics", "eventSourceSuffix"]);
    }
}
