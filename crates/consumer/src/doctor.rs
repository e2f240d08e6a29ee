//! `doctor`: the consumer's settings checked against Genesys before go-live — the token, the queues and codes the policy names, the default code on every queue it can reach, the read permissions — one finding per check.

use gev_core::deadline::Deadline;
use gev_core::domain::{PolicyAction, QueueId, WrapupPolicy};
use gev_genesys::routing::{RoutingApi, WrapupCodeInfo};
use gev_genesys::{GenesysApi, GenesysError, Operation};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What was checked, e.g. `queue 0000…0001`.
    pub subject: String,
    /// True when it holds.
    pub ok: bool,
    /// What was found, and what to fix when it does not hold.
    pub detail: String,
}

impl Finding {
    fn ok(subject: impl Into<String>, detail: impl Into<String>) -> Self {
        Finding {
            subject: subject.into(),
            ok: true,
            detail: detail.into(),
        }
    }

    fn fail(subject: impl Into<String>, detail: impl Into<String>) -> Self {
        Finding {
            subject: subject.into(),
            ok: false,
            detail: detail.into(),
        }
    }
}

/// The permission a 403 on `operation` asks for.
fn permission(operation: &Operation) -> &'static str {
    match operation {
        Operation::ListQueues | Operation::GetQueue(_) | Operation::ListQueueWrapupCodes(_) => {
            "routing:queue:view"
        }
        Operation::ListWrapupCodes => "routing:wrapupCode:view",
        Operation::FetchConversation(_) => "conversation:communication:view",
        _ => "the permission of that request",
    }
}

/// A failed request as a finding: a 403 names the permission, a refused token the credentials.
fn failed(subject: &str, error: &GenesysError) -> Finding {
    let text = gev_core::error_chain(error);
    let detail = match error {
        GenesysError::Refused {
            operation: Operation::Token,
            ..
        } => format!("{text}: check GENESYS_CLOUD_CLIENT_ID/SECRET (or the secret) and the region"),
        GenesysError::Refused {
            operation,
            status: 403,
            ..
        } => format!(
            "{text}: give the OAuth client's role the permission {}",
            permission(operation)
        ),
        _ => text,
    };
    Finding::fail(subject, detail)
}

/// Runs every check for `policy` with `genesys`; each request has `timeout`.
pub async fn check<G: GenesysApi + RoutingApi>(
    genesys: &G,
    policy: &WrapupPolicy,
    timeout: Duration,
) -> Vec<Finding> {
    let deadline = || Deadline::after(timeout);
    let mut findings = vec![Finding::ok(
        "policy",
        format!(
            "{} rule(s), default: {}",
            policy.rules.len(),
            describe(&policy.default)
        ),
    )];
    let queues = match genesys.queues(deadline()).await {
        Ok(queues) => {
            findings.push(Finding::ok("token", "the credentials get a token"));
            findings.push(Finding::ok(
                "queues",
                format!("{} queue(s) listed", queues.len()),
            ));
            queues
        }
        Err(error) => {
            findings.push(failed("token and queues", &error));
            return findings;
        }
    };
    let codes: BTreeMap<String, WrapupCodeInfo> = match genesys.wrapup_codes(deadline()).await {
        Ok(codes) => {
            findings.push(Finding::ok(
                "wrap-up codes",
                format!("{} code(s)", codes.len()),
            ));
            codes.into_iter().map(|c| (c.id.clone(), c)).collect()
        }
        Err(error) => {
            findings.push(failed("wrap-up codes", &error));
            BTreeMap::new()
        }
    };
    let probe = gev_core::domain::ConversationId::parse("00000000-0000-4000-8000-d0c70400000")
        .expect("a valid id");
    findings.push(match genesys.fetch_conversation(&probe, deadline()).await {
        Ok(_) | Err(GenesysError::NotFound { .. }) => Finding::ok(
            "conversations",
            "reading a conversation is permitted (the wrap-up write itself is not tried)",
        ),
        Err(error) => failed("conversations", &error),
    });
    let listed: BTreeSet<&str> = queues.iter().map(|q| q.id.as_str()).collect();
    for code in policy_codes(policy) {
        if !codes.is_empty() && !codes.contains_key(code.as_str()) {
            findings.push(Finding::fail(
                format!("code {code}"),
                "does not exist in the organization: fix the policy",
            ));
        }
    }
    // Every queue a rule names, with the code that rule sends there.
    let mut wanted: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (index, rule) in policy.rules.iter().enumerate() {
        if let (Some(queue), Some(code)) = (&rule.matches.queue_id, rule.action.code()) {
            wanted
                .entry(queue.to_string())
                .or_default()
                .push((format!("rules[{index}]"), code.to_string()));
        }
    }
    for (index, rule) in policy.rules.iter().enumerate() {
        if let Some(queue) = &rule.matches.queue_id
            && !listed.contains(queue.as_str())
        {
            findings.push(Finding::fail(
                format!("queue {queue}"),
                format!("rules[{index}] names a queue the organization does not list"),
            ));
        }
    }
    // The default reaches every listed queue that no queue-only rule takes entirely.
    if let Some(code) = policy.default.code() {
        let taken: BTreeSet<&str> = policy
            .rules
            .iter()
            .filter(|rule| {
                rule.matches.media_type.is_none()
                    && rule.matches.direction.is_none()
                    && rule.matches.division_id.is_none()
            })
            .filter_map(|rule| rule.matches.queue_id.as_ref().map(QueueId::as_str))
            .collect();
        for queue in queues.iter().filter(|q| !taken.contains(q.id.as_str())) {
            wanted
                .entry(queue.id.clone())
                .or_default()
                .push(("default".into(), code.to_string()));
        }
    }
    let mut default_missing = Vec::new();
    for (queue, uses) in &wanted {
        if !listed.contains(queue.as_str()) {
            continue;
        }
        let Ok(id) = QueueId::parse(queue) else {
            continue;
        };
        let facts = match RoutingApi::queue_facts(genesys, &id, deadline()).await {
            Ok(facts) => facts,
            Err(error) => {
                findings.push(failed(&format!("queue {queue}"), &error));
                continue;
            }
        };
        let missing: Vec<&(String, String)> = uses
            .iter()
            .filter(|(_, code)| !facts.has_code(code))
            .collect();
        if missing.is_empty() {
            findings.push(Finding::ok(
                format!("queue {queue}"),
                format!(
                    "{} ({}): every code the policy sends is assigned",
                    facts.name,
                    uses.len()
                ),
            ));
        }
        for (rule, code) in missing {
            if rule == "default" {
                default_missing.push(format!("{queue} ({})", facts.name));
            } else {
                findings.push(Finding::fail(
                    format!("queue {queue}"),
                    format!(
                        "{}: code {code} of {rule} is not assigned to it: assign it to the queue \
                         or change {rule}",
                        facts.name
                    ),
                ));
            }
        }
    }
    if !default_missing.is_empty() {
        let code = policy
            .default
            .code()
            .map(ToString::to_string)
            .unwrap_or_default();
        findings.push(Finding::fail(
            format!("default code {code}"),
            format!(
                "not assigned to {} queue(s) it can reach: {}; assign it, or add rules for them",
                default_missing.len(),
                default_missing.join(", ")
            ),
        ));
    }
    findings
}

fn describe(action: &PolicyAction) -> String {
    match action {
        PolicyAction::Write { code, .. } => format!("write {code}"),
        PolicyAction::Shadow { code, .. } => format!("shadow {code}"),
        PolicyAction::Skip => "skip".into(),
    }
}

/// Every code the policy names.
fn policy_codes(policy: &WrapupPolicy) -> BTreeSet<String> {
    policy
        .rules
        .iter()
        .map(|rule| &rule.action)
        .chain(std::iter::once(&policy.default))
        .filter_map(PolicyAction::code)
        .map(ToString::to_string)
        .collect()
}
